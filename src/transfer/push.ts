import { InputError } from '../errors/errors.js'
import { pickPlatform } from '../copy/platforms.js'
import { entryTags } from '../layout/index-file.js'
import { LayoutSource } from '../layout/layout-source.js'
import { formatReference, parseLayoutSpec, parseReference } from '../oci/reference.js'
import { ClientPool } from './clients.js'
import { destinations, mountSources, type Destination } from './plan.js'
import { sendToRegistries, type SendOptions } from './send.js'
import type { TransferResult } from './result.js'

export interface PushOptions extends SendOptions {
  /** Layout path (directory, tar or gzip tar) with an optional `:TAG` or `@DIGEST` selector. */
  layout: string
  /** Where a gzip-compressed tar is decompressed for random access. */
  tempDir?: string
}

/** What a push's inputs name, read and checked before the layout is opened. */
interface PushPlan {
  spec: ReturnType<typeof parseLayoutSpec>
  ref: ReturnType<typeof parseReference>
  targets: Destination[]
  mountable: Map<string, string[]>
}

function planPush(opts: PushOptions): PushPlan {
  const spec = parseLayoutSpec(opts.layout)
  const ref = parseReference(opts.reference, opts.registry)
  const targets = destinations(ref, ref.tag ?? spec.tag, opts.tags ?? [])
  return {
    spec,
    ref,
    targets,
    mountable: mountSources(opts.mountFrom ?? [], ref.registry, targets)
  }
}

/** Pushes the selected image of a layout, with everything under it, and tags it last. */
export async function push(opts: PushOptions): Promise<TransferResult> {
  const plan = planPush(opts)
  const source = await LayoutSource.open(plan.spec.path, { tempDir: opts.tempDir })
  const pool = new ClientPool(opts)
  try {
    return await pushFrom(source, pool, opts, plan)
  } finally {
    await pool.close()
    await source.close()
  }
}

/**
 * A push from a layout already open, through clients already open: a restore pushes every tag
 * of one layout this way, its connections and what it learned of the registry kept between them.
 */
export async function pushFrom(
  source: LayoutSource,
  pool: ClientPool,
  opts: PushOptions,
  { spec, ref, targets, mountable }: PushPlan = planPush(opts)
): Promise<TransferResult> {
  let root = await source.resolve(spec.digest ?? spec.tag ?? '')
  if (opts.platform) root = await pickPlatform(source, root, opts.platform)
  if (ref.digest && ref.digest !== root.digest) {
    throw new InputError(
      `reference ${opts.reference} names digest ${ref.digest}, but the layout's image is ${root.digest}`,
      { hint: 'drop the digest from the reference, or select that image with layout@DIGEST' }
    )
  }
  if (targets.every((t) => t.tags.length === 0)) {
    const had = source.index.manifests.filter((d) => d.digest === root.digest).flatMap(entryTags)
    opts.onWarning?.(
      `nothing names a tag, so ${formatReference({ ...ref, tag: undefined, digest: root.digest })} is pushed by digest only` +
        (had.length
          ? `; the layout tags it ${had.join(', ')}: select it with layout: ${spec.path}:${had[0]} or put the tag in the reference`
          : '; put a tag in the reference (org/app:v1) or the tags input')
    )
  }
  return sendToRegistries(source, root, targets, mountable, pool, opts)
}
