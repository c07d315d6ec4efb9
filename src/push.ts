import { readFile } from 'node:fs/promises'
import { InputError } from './content/errors.js'
import { copyGraph, type CopyEvent } from './copy/copy.js'
import { LayoutSource } from './layout/layout-source.js'
import { formatReference, parseLayoutSpec, parseReference } from './oci/reference.js'
import type { SecretSink } from './registry/auth.js'
import { findCredentials, type Credentials } from './registry/credentials.js'
import { RegistryClient, type PlainHttp } from './registry/client.js'
import { RegistryRepository } from './registry/repository.js'

/** What push and pull share: where the registry is and how to talk to it. */
export interface RegistryOptions {
  /** `host[:port]`; may be empty when `reference` is fully qualified. */
  registry?: string
  /** `REPOSITORY[:TAG][@DIGEST]`, or `host/REPOSITORY[:TAG]`. */
  reference: string
  /** Explicit credentials; when absent they are looked up (see findCredentials). */
  credentials?: Credentials
  /** Inputs for the credential lookup. */
  username?: string
  password?: string
  githubToken?: string
  githubActor?: string
  /** Environment for the lookup (docker config, podman auth file); default process.env. */
  env?: NodeJS.ProcessEnv
  plainHttp?: PlainHttp
  concurrency?: number
  /** Tries after the first for a failed request or transfer (default 5). */
  retries?: number
  /** Blobs above this size go up in resumable chunks of it (0: never). */
  chunkSize?: number
  /** PEM bundle trusted in addition to the default CAs (contents, or a path in caFile). */
  ca?: string
  caFile?: string
  insecure?: boolean
  onEvent?: (event: CopyEvent) => void
  onSecret?: SecretSink
  onTrace?: (line: string) => void
  /** Informational lines (where credentials came from, warnings). */
  onNotice?: (line: string) => void
}

export interface PushOptions extends RegistryOptions {
  /** Layout path (directory, tar or gzip tar) with an optional `:TAG` or `@DIGEST` selector. */
  layout: string
  /** Where a gzip-compressed tar is decompressed for random access. */
  tempDir?: string
}

export interface TransferResult {
  digest: string
  mediaType: string
  size: number
  /** `host/repository@digest`. */
  reference: string
  /** Full references of the tags written. */
  tags: string[]
  bytesTotal: number
  bytesSent: number
}

/** Opens a client for one registry, with the credentials found for it. */
export async function openClient(opts: RegistryOptions, registry: string): Promise<RegistryClient> {
  let credentials = opts.credentials
  if (!credentials) {
    const found = await findCredentials({
      registry,
      username: opts.username,
      password: opts.password,
      githubToken: opts.githubToken,
      githubActor: opts.githubActor,
      env: opts.env,
      onSecret: opts.onSecret
    })
    if (found) opts.onNotice?.(`Using credentials for ${registry} from ${found.source}`)
    credentials = found?.credentials
  }
  if (opts.insecure) opts.onNotice?.(`TLS verification is off for ${registry} (insecure: true)`)
  let ca = opts.ca
  if (opts.caFile) {
    try {
      ca = await readFile(opts.caFile, 'utf8')
    } catch {
      throw new InputError(`ca-file ${opts.caFile} cannot be read`, {
        hint: 'give the path of a PEM file holding the CA certificate(s)'
      })
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new InputError(`ca-file ${opts.caFile} holds no PEM certificate`)
  }
  return new RegistryClient({
    registry,
    plainHttp: opts.plainHttp,
    credentials,
    onSecret: opts.onSecret,
    onTrace: opts.onTrace,
    ca,
    insecure: opts.insecure,
    retry: opts.retries === undefined ? undefined : { retries: opts.retries },
    chunkSize: opts.chunkSize,
    onRetry: opts.onNotice
  })
}

/** Pushes the selected image of a layout, with everything under it, and tags it last. */
export async function push(opts: PushOptions): Promise<TransferResult> {
  const spec = parseLayoutSpec(opts.layout)
  const ref = parseReference(opts.reference, opts.registry)
  const tag = ref.tag ?? spec.tag
  const source = await LayoutSource.open(spec.path, { tempDir: opts.tempDir })
  let client: RegistryClient | undefined
  try {
    client = await openClient(opts, ref.registry)
    const root = await source.resolve(spec.digest ?? spec.tag ?? '')
    if (ref.digest && ref.digest !== root.digest) {
      throw new InputError(
        `reference ${opts.reference} names digest ${ref.digest}, but the layout's image is ${root.digest}`,
        {
          hint: 'drop the digest from the reference, or select that image with layout@DIGEST'
        }
      )
    }
    const repo = new RegistryRepository(client, ref.repository, { push: true })
    const result = await copyGraph(source, root, repo, {
      concurrency: opts.concurrency,
      tags: tag ? [tag] : [],
      onEvent: opts.onEvent,
      retry: opts.retries === undefined ? undefined : { retries: opts.retries }
    })
    const base = { registry: ref.registry, repository: ref.repository }
    return {
      digest: result.root.digest,
      mediaType: result.root.mediaType,
      size: result.root.size,
      reference: formatReference({ ...base, digest: result.root.digest }),
      tags: tag ? [formatReference({ ...base, tag })] : [],
      bytesTotal: result.bytesTotal,
      bytesSent: result.bytesSent
    }
  } finally {
    client?.close()
    await source.close()
  }
}
