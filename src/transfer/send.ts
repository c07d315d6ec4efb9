import type { Source } from '../content/source.js'
import { copyGraph } from '../copy/copy.js'
import { imagePlatforms } from '../copy/platforms.js'
import { copyReferrers } from '../copy/referrers.js'
import { formatReference } from '../oci/reference.js'
import type { Descriptor } from '../oci/types.js'
import { RegistryRepository } from '../registry/repository.js'
import type { ClientPool } from './clients.js'
import type { RegistryOptions } from './options.js'
import type { Destination } from './plan.js'
import type { TransferResult } from './result.js'

// What a push and a registry-to-registry copy share: one image, from any source, into every
// repository the reference and tags name, tagged only once every one of them holds it whole.

/** What a push and a copy to registries take besides the registry options. */
export interface SendOptions extends RegistryOptions {
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
  /** `os/arch[/variant]`: from an index, send only the matching platform's manifest. */
  platform?: string
}

/**
 * Copies `root` and everything under it into each target (blobs mounted from a repository of the
 * same registry where one may hold them), carries referrers when asked, then writes the tags.
 */
export async function sendToRegistries(
  source: Source,
  root: Descriptor,
  targets: Destination[],
  mountable: Map<string, string[]>,
  pool: ClientPool,
  opts: RegistryOptions
): Promise<TransferResult> {
  const pushed = new Map<string, string>() // registry → first repository written there
  let first: Awaited<ReturnType<typeof copyGraph>> | undefined
  let bytesSent = 0
  const written: TransferResult['destinations'] = []
  const referrers: TransferResult['referrers'] = []
  const repos: { repo: RegistryRepository; tags: string[] }[] = []
  for (const d of targets) {
    const client = await pool.get(d.ref.registry)
    // Where blobs may already be: a repository this run filled first, then those named.
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
      for (const r of carried) if (!referrers.some((x) => x.digest === r.digest)) referrers.push(r)
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
      await repo.tag(result.root, tag, result.graph.root.bytes)
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
}
