import { readManifest } from '../content/source.js'
import { imagePlatforms, toPlatform } from '../copy/platforms.js'
import { InputError, OciError } from '../errors/errors.js'
import { checkLayoutDestination } from '../layout/layout-sink.js'
import { LayoutSource } from '../layout/layout-source.js'
import { isIndexType } from '../oci/media-types.js'
import { isAttestation, mergeIndex, type MergeInput, type MergedIndex } from '../oci/merge-index.js'
import { formatReference, parseLayoutSpec, parseReference } from '../oci/reference.js'
import { shortDigest, type Descriptor, type Platform } from '../oci/types.js'
import { ClientPool } from './clients.js'
import { writeLayout, type CopyLayoutOptions } from './copy.js'
import { MergedSource } from './merged-source.js'
import { destinations, mountSources } from './plan.js'
import type { TransferResult } from './result.js'
import { sendToRegistries, type SendOptions } from './send.js'

// Per-platform builds (a matrix job per platform, each writing its own layout) published as one
// multi-platform image: the index is made here, everything under it is read from the layouts.

export interface MergeLayoutsOptions {
  /** The layouts, each `PATH[:TAG|@DIGEST]`: a platform image, or an index of them (with attestations). */
  layouts: string[]
  /** The merged index's own annotations (`org.opencontainers.image.*`). */
  annotations?: Record<string, string>
  tempDir?: string
}

export type MergePushOptions = MergeLayoutsOptions & SendOptions

export type MergeToLayoutOptions = MergeLayoutsOptions &
  Omit<CopyLayoutOptions, 'source' | 'platform'>

/** Merges the layouts and pushes the index to every repository `reference` and `tags` name, tags last. */
export async function mergePush(opts: MergePushOptions): Promise<TransferResult> {
  const ref = parseReference(opts.reference, opts.registry)
  const targets = destinations(ref, ref.tag, opts.tags ?? [])
  const mountable = mountSources(opts.mountFrom ?? [], ref.registry, targets)
  return withMerged(opts, async (source, index) => {
    if (ref.digest && ref.digest !== index.desc.digest)
      throw new InputError(
        `reference ${opts.reference} names digest ${ref.digest}, but the merged index is ${index.desc.digest}`,
        { hint: 'drop the digest from the reference' }
      )
    if (targets.every((t) => t.tags.length === 0))
      opts.onWarning?.(
        `nothing names a tag, so ${formatReference({ ...ref, tag: undefined, digest: index.desc.digest })} is pushed by digest only; put a tag in the reference or the tags input`
      )
    const pool = new ClientPool(opts)
    try {
      return await sendToRegistries(source, index.desc, targets, mountable, pool, opts)
    } finally {
      await pool.close()
    }
  })
}

/** Merges the layouts into one layout (a directory or a tar), the index tagged `:TAG` when named. */
export async function mergeToLayout(opts: MergeToLayoutOptions): Promise<TransferResult> {
  const to = parseLayoutSpec(opts.layout)
  if (to.digest)
    throw new InputError(`the destination ${opts.layout} names a digest; a layout is tagged`, {
      hint: 'name the destination PATH or PATH:TAG'
    })
  await checkLayoutDestination(to.path)
  return withMerged(opts, (source, index) => writeLayout(source, index.desc, to, opts))
}

/** Opens every layout, builds the index, and runs `send` over it; the layouts are closed after. */
async function withMerged(
  opts: MergeLayoutsOptions,
  send: (source: MergedSource, index: MergedIndex) => Promise<TransferResult>
): Promise<TransferResult> {
  if (opts.layouts.length === 0)
    throw new InputError('nothing to merge: no layout named', {
      hint: 'name a layout per platform'
    })
  const specs = opts.layouts.map((l) => parseLayoutSpec(l))
  const opened: LayoutSource[] = []
  try {
    const input: MergeInput = { images: [], attestations: [], annotations: opts.annotations }
    for (const [i, spec] of specs.entries()) {
      const layout = await LayoutSource.open(spec.path, { tempDir: opts.tempDir })
      opened.push(layout)
      await collect(
        layout,
        await layout.resolve(spec.digest ?? spec.tag ?? ''),
        opts.layouts[i],
        input
      )
    }
    const index = mergeIndex(input)
    return await send(new MergedSource(opened, index), index)
  } finally {
    for (const l of opened) await l.close()
  }
}

/** The platform images and attestations under one layout's root, added to `into`. */
async function collect(
  layout: LayoutSource,
  root: Descriptor,
  name: string,
  into: MergeInput
): Promise<void> {
  const { bytes, parsed } = await readManifest(layout, root)
  const children =
    parsed.kind === 'index'
      ? parsed.index.manifests
      : [{ mediaType: root.mediaType, digest: root.digest, size: root.size }]
  for (const child of children) {
    if (isAttestation(child)) {
      into.attestations.push(child)
      continue
    }
    if (isIndexType(child.mediaType))
      throw new OciError(`${name} nests index ${shortDigest(child.digest)} in its index`, {
        hint: 'merge layouts whose index lists platform manifests; select an inner index with @DIGEST'
      })
    // A single manifest's bytes are those just read; an index child's are read for its config.
    const own = parsed.kind === 'index' ? undefined : bytes
    const platform = child.platform ?? (await configPlatform(layout, child, name, own))
    into.images.push({ layout: name, desc: { ...child, platform } })
  }
}

/** A manifest's platform from its config, for a manifest whose descriptor names none. */
async function configPlatform(
  layout: LayoutSource,
  desc: Descriptor,
  name: string,
  known?: Buffer
): Promise<Platform> {
  const bytes = known ?? (await readManifest(layout, desc)).bytes
  const [platform] = await imagePlatforms(layout, { desc, bytes, children: [] })
  if (!platform)
    throw new OciError(
      `${name}: manifest ${shortDigest(desc.digest)} names no platform, so it has no place in a multi-platform index`,
      { hint: 'merge container images (their config names os and architecture), not artifacts' }
    )
  return toPlatform(platform)
}
