import type { Source } from '../content/source.js'
import { copyGraph, type CopyEvent } from '../copy/copy.js'
import { FanOutSink } from '../copy/fan-out.js'
import { loadGraph, type Graph } from '../copy/graph.js'
import { settleAll } from '../copy/limiter.js'
import { imagePlatforms } from '../copy/platforms.js'
import { copyReferrers } from '../copy/referrers.js'
import { formatReference } from '../oci/reference.js'
import type { Descriptor } from '../oci/types.js'
import { RegistryRepository } from '../registry/repository.js'
import type { ClientPool } from './clients.js'
import { DestinationLog, fanOutEvents } from './destination-log.js'
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
 * Copies `root` and everything under it into each target, carries referrers when asked, then
 * writes the tags. The first repository of each registry is one member of a single copy over a
 * fan-out (each blob read and hashed once, uploaded to every registry at once); further
 * repositories of a registry follow, each mounting from the first.
 */
export async function sendToRegistries(
  source: Source,
  root: Descriptor,
  targets: Destination[],
  mountable: Map<string, string[]>,
  pool: ClientPool,
  opts: RegistryOptions
): Promise<TransferResult> {
  const firstOf = new Map<string, number>() // registry → index of the first target there
  const repos: RegistryRepository[] = []
  for (const [i, d] of targets.entries()) {
    const client = await pool.get(d.ref.registry)
    const first = firstOf.get(d.ref.registry)
    if (first === undefined) firstOf.set(d.ref.registry, i)
    // Where blobs may already be: the registry's first repository (filled first), then those named.
    const mountFrom = [
      first === undefined ? undefined : targets[first].ref.repository,
      ...(mountable.get(d.ref.registry) ?? [])
    ]
      .filter((r): r is string => r !== undefined && r !== d.ref.repository)
      .filter((r, i, all) => all.indexOf(r) === i)
    repos.push(new RegistryRepository(client, d.ref.repository, { push: true, mountFrom }))
  }
  const firsts = [...firstOf.values()]
  const further = targets.map((_, i) => i).filter((i) => !firsts.includes(i))
  const log = new DestinationLog(targets.length, opts.onEvent)
  const copyOpts = { concurrency: opts.concurrency }
  const referrerOpts = { ...copyOpts, artifactType: opts.artifactType }
  const referrers: Descriptor[] = []
  const carry = (found: Descriptor[]): void => {
    for (const r of found) if (!referrers.some((x) => x.digest === r.digest)) referrers.push(r)
  }
  let bytesSent = 0
  let graph: Graph
  try {
    graph = await loadGraph(source, root)
    // One HEAD each: a registry holds a manifest only once all it names is there, so a
    // repository with the root needs nothing (and drops out of the fan-out).
    const held = await settleAll(firsts.map((i) => repos[i].exists(graph.root.desc)))
    const lacking = firsts.filter((_, k) => !held[k])
    const fan = new FanOutSink(
      lacking.map((i) => repos[i]),
      [graph.root.desc]
    )
    const fanned = firsts.map((i) => ({
      index: i,
      name: repos[i].name,
      member: lacking.includes(i) ? repos[i] : undefined
    }))
    await copyGraph(source, root, fan, {
      ...copyOpts,
      graph,
      skipExistingRoot: true,
      onEvent: fanOutEvents(fan, fanned, log, graph.root.desc)
    })
    for (const m of fan.members) bytesSent += fan.bytesSent(m)
    if (opts.referrers) {
      // Every first repository, the root's holders too: referrers may be new where the image is not.
      const all = new FanOutSink(firsts.map((i) => repos[i]))
      const everyone = firsts.map((i) => ({ index: i, name: repos[i].name, member: repos[i] }))
      carry(
        await copyReferrers(source, all, graph, {
          ...referrerOpts,
          onEvent: fanOutEvents(all, everyone, log)
        })
      )
    }
    for (const i of further) {
      const onEvent = (e: CopyEvent): void => log.tell(i, e)
      const result = await copyGraph(source, root, repos[i], {
        ...copyOpts,
        graph,
        skipExistingRoot: true,
        onEvent
      })
      bytesSent += result.bytesSent
      if (opts.referrers)
        carry(await copyReferrers(source, repos[i], graph, { ...referrerOpts, onEvent }))
    }
  } finally {
    // What each destination got, in order, also when one failed.
    log.flush()
  }
  // Tags wait until every repository holds the whole image.
  for (const [i, d] of targets.entries()) {
    for (const tag of d.tags) {
      await repos[i].tag(graph.root.desc, tag, graph.root.bytes)
      opts.onEvent?.({ type: 'tag', desc: graph.root.desc, tag, target: repos[i].name })
    }
  }
  const written = targets.map((d) => ({
    reference: formatReference({ ...d.ref, digest: graph.root.desc.digest }),
    tags: d.tags.map((tag) => formatReference({ ...d.ref, tag }))
  }))
  return {
    digest: graph.root.desc.digest,
    mediaType: graph.root.desc.mediaType,
    size: graph.root.desc.size,
    reference: written[0].reference,
    tags: written.flatMap((w) => w.tags),
    bytesTotal: graph.nodes.reduce((sum, n) => sum + n.desc.size, 0),
    bytesSent,
    platforms: await imagePlatforms(source, graph.root),
    destinations: written,
    referrers,
    rateLimits: await pool.rateLimits()
  }
}
