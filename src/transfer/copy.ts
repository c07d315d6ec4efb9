import * as path from 'node:path'
import { InputError } from '../errors/errors.js'
import { copyGraph } from '../copy/copy.js'
import { imagePlatforms, pickPlatform } from '../copy/platforms.js'
import { copyReferrers } from '../copy/referrers.js'
import { checkLayoutDestination, LayoutSink } from '../layout/layout-sink.js'
import { LayoutSource } from '../layout/layout-source.js'
import { Annotation } from '../oci/media-types.js'
import { formatReference, parseLayoutSpec, parseReference } from '../oci/reference.js'
import type { RegistryClient } from '../registry/client.js'
import { RegistryRepository } from '../registry/repository.js'
import type { Descriptor } from '../oci/types.js'
import type { Source } from '../content/source.js'
import { ClientPool, openClient } from './clients.js'
import type { RegistryOptions } from './options.js'
import { destinations, mountSources } from './plan.js'
import type { TransferResult } from './result.js'
import { sendToRegistries, type SendOptions } from './send.js'

// The copies that are neither a push nor a pull: registry to registry, and layout to layout.
// Layout to registry is push, registry to layout is pull.

export interface CopyImageOptions extends SendOptions {
  /** The image copied: `host/repository:tag` or `host/repository@digest`. */
  source: string
  /** Credentials for the source's registry; else they are looked up as for any registry. */
  sourceUsername?: string
  sourcePassword?: string
  /** What the adapter calls those two, for hints (default: the action's input names). */
  sourceCredentialInputs?: string
}

/**
 * Copies an image from one registry repository to others (`reference` and `tags`) byte for
 * byte, each side with its own credentials, and tags it last. On the source's registry, blobs
 * are mounted from the source repository instead of passing through this machine.
 */
export async function copyImage(opts: CopyImageOptions): Promise<TransferResult> {
  const from = parseReference(opts.source)
  const ref = parseReference(opts.reference, opts.registry)
  // The destination's tag, else the source's, as `oras cp` does.
  const targets = destinations(ref, ref.tag ?? from.tag, opts.tags ?? [])
  const mountable = mountSources(opts.mountFrom ?? [], ref.registry, targets)
  if (targets.some((t) => t.ref.registry === from.registry)) {
    const list = mountable.get(from.registry) ?? []
    mountable.set(from.registry, [from.repository, ...list])
  }
  const pool = new ClientPool(opts)
  let own: RegistryClient | undefined
  try {
    // On the destination's registry, with no credentials of its own, the source shares its client.
    const shared = from.registry === ref.registry && !opts.sourceUsername
    const client = shared
      ? await pool.get(ref.registry)
      : (own = await openClient(
          {
            ...opts,
            credentials: undefined,
            username: opts.sourceUsername,
            password: opts.sourcePassword,
            credentialInputs:
              opts.sourceCredentialInputs ?? 'the source-username and source-password inputs'
          },
          from.registry
        ))
    const source = new RegistryRepository(client, from.repository, { push: false })
    let root = await source.resolve(from.digest ?? from.tag ?? 'latest')
    if (opts.platform) root = await pickPlatform(source, root, opts.platform)
    if (ref.digest && ref.digest !== root.digest)
      throw new InputError(
        `reference ${opts.reference} names digest ${ref.digest}, but ${opts.source} is ${root.digest}`,
        { hint: 'drop the digest from the reference' }
      )
    if (targets.every((t) => t.tags.length === 0))
      opts.onWarning?.(
        `nothing names a tag, so ${formatReference({ ...ref, tag: undefined, digest: root.digest })} is copied by digest only; put a tag in the reference or the tags input`
      )
    const result = await sendToRegistries(source, root, targets, mountable, pool, opts)
    const limits = own?.rateLimitLine()
    return { ...result, rateLimits: limits ? [...result.rateLimits, limits] : result.rateLimits }
  } finally {
    own?.close()
    await pool.close()
  }
}

export interface CopyLayoutOptions {
  /** The layout read: `PATH[:TAG|@DIGEST]` (directory, tar or gzip tar). */
  source: string
  /** The layout written: a directory, or a path ending in .tar / .tar.gz / .tgz, with an optional `:TAG`. */
  layout: string
  tempDir?: string
  platform?: string
  referrers?: boolean
  artifactType?: string
  concurrency?: number
  onEvent?: RegistryOptions['onEvent']
  onNotice?: (line: string) => void
}

/** Copies an image from one layout into another, byte for byte, tagged as the source's when unnamed. */
export async function copyLayout(opts: CopyLayoutOptions): Promise<TransferResult> {
  const from = parseLayoutSpec(opts.source)
  const to = parseLayoutSpec(opts.layout)
  if (to.digest)
    throw new InputError(`the destination ${opts.layout} names a digest; a layout is tagged`, {
      hint: 'name the destination PATH or PATH:TAG'
    })
  const tag = to.tag ?? from.tag
  await checkLayoutDestination(to.path)
  const source = await LayoutSource.open(from.path, { tempDir: opts.tempDir })
  try {
    let root = await source.resolve(from.digest ?? from.tag ?? '')
    if (opts.platform) root = await pickPlatform(source, root, opts.platform)
    return await writeLayout(source, root, { path: to.path, tag }, opts)
  } finally {
    await source.close()
  }
}

/**
 * Writes `root` and everything under it from any source into the layout at `to.path` (checked
 * beforehand with checkLayoutDestination), tagged `to.tag` in its index.json.
 */
export async function writeLayout(
  source: Source,
  root: Descriptor,
  to: { path: string; tag?: string },
  opts: Omit<CopyLayoutOptions, 'source' | 'layout'>
): Promise<TransferResult> {
  const { tag } = to
  let store: LayoutSink | undefined
  try {
    store = await LayoutSink.open(to.path, root)
    const result = await copyGraph(source, root, store, opts)
    const referrers = opts.referrers ? await copyReferrers(source, store, result.graph, opts) : []
    for (const r of await store.commit(result.root, tag ? { [Annotation.RefName]: tag } : {}))
      opts.onNotice?.(`${to.path}: tag ${r.tag} moved from ${r.was} to ${result.root.digest}`)
    const written = path.resolve(to.path)
    return {
      digest: result.root.digest,
      mediaType: result.root.mediaType,
      size: result.root.size,
      reference: `${written}@${result.root.digest}`,
      tags: tag ? [tag] : [],
      bytesTotal: result.bytesTotal,
      bytesSent: result.bytesSent,
      platforms: await imagePlatforms(source, result.graph.root),
      destinations: [{ reference: written, tags: tag ? [tag] : [] }],
      referrers,
      rateLimits: []
    }
  } finally {
    await store?.close()
  }
}
