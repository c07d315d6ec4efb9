import { InputError } from './content/errors.js'
import { copyGraph, type CopyEvent } from './copy/copy.js'
import { LayoutSource } from './layout/layout-source.js'
import { formatReference, parseLayoutSpec, parseReference } from './oci/reference.js'
import type { Credentials, SecretSink } from './registry/auth.js'
import { RegistryClient, type PlainHttp } from './registry/client.js'
import { RegistryRepository } from './registry/repository.js'

/** What push and pull share: where the registry is and how to talk to it. */
export interface RegistryOptions {
  /** `host[:port]`; may be empty when `reference` is fully qualified. */
  registry?: string
  /** `REPOSITORY[:TAG][@DIGEST]`, or `host/REPOSITORY[:TAG]`. */
  reference: string
  credentials?: Credentials
  plainHttp?: PlainHttp
  concurrency?: number
  ca?: string
  insecure?: boolean
  onEvent?: (event: CopyEvent) => void
  onSecret?: SecretSink
  onTrace?: (line: string) => void
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

export function openClient(opts: RegistryOptions, registry: string): RegistryClient {
  return new RegistryClient({
    registry,
    plainHttp: opts.plainHttp,
    credentials: opts.credentials,
    onSecret: opts.onSecret,
    onTrace: opts.onTrace,
    ca: opts.ca,
    insecure: opts.insecure
  })
}

/** Pushes the selected image of a layout, with everything under it, and tags it last. */
export async function push(opts: PushOptions): Promise<TransferResult> {
  const spec = parseLayoutSpec(opts.layout)
  const ref = parseReference(opts.reference, opts.registry)
  const tag = ref.tag ?? spec.tag
  const source = await LayoutSource.open(spec.path, { tempDir: opts.tempDir })
  const client = openClient(opts, ref.registry)
  try {
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
      onEvent: opts.onEvent
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
    client.close()
    await source.close()
  }
}
