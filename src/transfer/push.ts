import { InputError } from '../errors/errors.js'
import { copyGraph } from '../copy/copy.js'
import { imagePlatforms } from '../copy/platforms.js'
import { copyReferrers } from '../copy/referrers.js'
import { entryTags } from '../layout/index-file.js'
import { LayoutSource } from '../layout/layout-source.js'
import { formatReference, parseLayoutSpec, parseReference } from '../oci/reference.js'
import { RegistryRepository } from '../registry/repository.js'
import { ClientPool } from './clients.js'
import type { RegistryOptions } from './options.js'
import { destinations, mountSources } from './plan.js'
import type { TransferResult } from './result.js'

export interface PushOptions extends RegistryOptions {
  /** Layout path (directory, tar or gzip tar) with an optional `:TAG` or `@DIGEST` selector. */
  layout: string
  /** Where a gzip-compressed tar is decompressed for random access. */
  tempDir?: string
  /**
   * More tags: bare tags for the same repository, or full references (other repositories of the
   * same registry get the blobs by mount; other registries get them uploaded).
   */
  tags?: string[]
  /**
   * Repositories (`org/app` or `host/org/app`) that may already hold the blobs: on their registry,
   * blobs are mounted from them instead of uploaded.
   */
  mountFrom?: string[]
}

/** Pushes the selected image of a layout, with everything under it, and tags it last. */
export async function push(opts: PushOptions): Promise<TransferResult> {
  const spec = parseLayoutSpec(opts.layout)
  const ref = parseReference(opts.reference, opts.registry)
  const targets = destinations(ref, ref.tag ?? spec.tag, opts.tags ?? [])
  const mountable = mountSources(opts.mountFrom ?? [], ref.registry, targets)
  const source = await LayoutSource.open(spec.path, { tempDir: opts.tempDir })
  const pool = new ClientPool(opts)
  try {
    const root = await source.resolve(spec.digest ?? spec.tag ?? '')
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
    const pushed = new Map<string, string>() // registry → first repository written there
    let first: Awaited<ReturnType<typeof copyGraph>> | undefined
    let bytesSent = 0
    const written: TransferResult['destinations'] = []
    const referrers: TransferResult['referrers'] = []
    const repos: { repo: RegistryRepository; tags: string[] }[] = []
    for (const d of targets) {
      const client = await pool.get(d.ref.registry)
      // Where blobs may already be: a repository this push filled first, then those named.
      const mountFrom = [pushed.get(d.ref.registry), ...(mountable.get(d.ref.registry) ?? [])]
        .filter((r): r is string => r !== undefined && r !== d.ref.repository)
        .filter((r, i, all) => all.indexOf(r) === i)
      const repo = new RegistryRepository(client, d.ref.repository, { push: true, mountFrom })
      // Tags wait until every repository holds the whole image (below).
      const result = await copyGraph(source, root, repo, {
        concurrency: opts.concurrency,
        onEvent: opts.onEvent,
        skipExistingRoot: true
      })
      repos.push({ repo, tags: d.tags })
      first ??= result
      bytesSent += result.bytesSent
      if (opts.referrers) {
        const carried = await copyReferrers(source, repo, result.graph, {
          concurrency: opts.concurrency,
          onEvent: opts.onEvent,
          artifactType: opts.artifactType
        })
        for (const r of carried)
          if (!referrers.some((x) => x.digest === r.digest)) referrers.push(r)
      }
      if (!pushed.has(d.ref.registry)) pushed.set(d.ref.registry, d.ref.repository)
      written.push({
        reference: formatReference({ ...d.ref, digest: result.root.digest }),
        tags: d.tags.map((tag) => formatReference({ ...d.ref, tag }))
      })
    }
    const result = first as NonNullable<typeof first>
    for (const { repo, tags } of repos) {
      for (const tag of tags) {
        await repo.tag(result.root, tag)
        opts.onEvent?.({ type: 'tag', desc: result.root, tag, target: repo.name })
      }
    }
    return {
      digest: result.root.digest,
      mediaType: result.root.mediaType,
      size: result.root.size,
      reference: written[0].reference,
      tags: written.flatMap((w) => w.tags),
      bytesTotal: result.bytesTotal,
      bytesSent,
      platforms: await imagePlatforms(source, result.graph.root),
      destinations: written,
      referrers,
      rateLimits: await pool.rateLimits()
    }
  } finally {
    await pool.close()
    await source.close()
  }
}
