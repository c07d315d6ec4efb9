import { BlobCursor } from '../content/blob-cursor.js'
import { RegistryError } from '../errors/errors.js'
import type { BlobContent, Sink } from '../content/sink.js'
import type { Source } from '../content/source.js'
import { isManifestType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'
import { loadGraph, type Graph, type GraphNode } from './graph.js'
import { createLimiter } from './limiter.js'

export type TransferOutcome = 'uploaded' | 'mounted' | 'exists'

export type CopyEvent =
  | { type: 'graph'; target: string; nodes: number; blobs: number; bytes: number }
  | { type: 'progress'; desc: Descriptor; bytes: number; target?: string }
  /** `target`: where the item went (`host/repository`, as in `graph`). */
  | {
      type: 'blob' | 'manifest'
      desc: Descriptor
      outcome: TransferOutcome
      ms: number
      target?: string
    }
  /** `target`: the repository tagged (`host/repository`, as in `graph`), when not the graph's. */
  | { type: 'tag'; desc: Descriptor; tag: string; target?: string }

export interface CopyOptions {
  /** How many blobs move at once. */
  concurrency?: number
  onEvent?: (event: CopyEvent) => void
  /**
   * Skip the whole graph when the destination has its root: right for registries, which accept a
   * manifest only once everything it names is present.
   */
  skipExistingRoot?: boolean
  /** The graph under the root, when the caller loaded it already (from the same source). */
  graph?: Graph
}

const DEFAULT_CONCURRENCY = 8
/**
 * Small blobs move this many times as many at once: their time is round trips, not bytes (1,000
 * layers of 4 KiB behind 50 ms took 12 s at 8 at once), and each holds a slab or few of memory.
 */
const SMALL_WIDTH = 4
const SMALL_MAX = 1024 * 1024
/** Blobs this large get progress lines while they move, at most one per interval. */
const PROGRESS_MIN_BYTES = 64 * 1024 * 1024
const PROGRESS_INTERVAL_MS = 10_000

export interface CopyResult {
  root: Descriptor
  /** The graph that was copied (manifests with their bytes). */
  graph: Graph
  /** Distinct manifests and blobs in the graph. */
  nodes: number
  bytesTotal: number
  bytesSent: number
}

/**
 * Copies the graph under `rootDesc` from a source to a sink: push is layout → registry, pull is
 * registry → layout. The source graph is read and checked first; then blobs move in parallel
 * (skipping what the destination has), each manifest only after everything it names. Tags are
 * the caller's, written once every destination holds the whole image.
 */
export async function copyGraph(
  src: Source,
  rootDesc: Descriptor,
  dst: Sink,
  opts: CopyOptions = {}
): Promise<CopyResult> {
  const emit = opts.onEvent ?? (() => {})
  const graph = opts.graph ?? (await loadGraph(src, rootDesc))
  const blobs = graph.nodes.filter((n) => !n.bytes)
  const bytesTotal = graph.nodes.reduce((sum, n) => sum + n.desc.size, 0)
  emit({
    type: 'graph',
    target: dst.name,
    nodes: graph.nodes.length,
    blobs: blobs.length,
    bytes: bytesTotal
  })

  await dst.prepare?.(graph.nodes.map((n) => n.desc))
  // A registry holds a manifest only once all it names is there: an unchanged image costs one HEAD.
  const rootAbsent = opts.skipExistingRoot && !(await dst.exists(graph.root.desc))
  if (opts.skipExistingRoot && !rootAbsent) {
    emit({ type: 'manifest', desc: graph.root.desc, outcome: 'exists', ms: 0, target: dst.name })
    return { root: graph.root.desc, graph, nodes: graph.nodes.length, bytesTotal, bytesSent: 0 }
  }

  const width = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY)
  const limitLarge = createLimiter(width)
  const limitSmall = createLimiter(width * SMALL_WIDTH)
  const limit = (node: GraphNode) => (node.desc.size <= SMALL_MAX ? limitSmall : limitLarge)
  const done = new Map<string, Promise<void>>()
  const inFlight = new Set<Promise<unknown>>()
  let failed: unknown
  let bytesSent = 0

  /** Blobs skipped because the destination said it had them. */
  const skipped = new Set<string>()
  const send = (node: GraphNode): Promise<TransferOutcome> => {
    const progress =
      node.desc.size >= PROGRESS_MIN_BYTES
        ? (bytes: number) => emit({ type: 'progress', desc: node.desc, bytes, target: dst.name })
        : undefined
    return dst.push(node.desc, node.bytes ?? new SourceContent(src, node.desc, progress))
  }
  const transferOnce = async (node: GraphNode): Promise<TransferOutcome> => {
    // The root was asked about up front: asking again repeats a request (a 403 on Artifactory).
    const known = rootAbsent && node === graph.root
    // A sink that asks while pushing (a registry, for small blobs) is not asked first.
    const asked = known || dst.asksOnPush?.(node.desc) === true
    if (!asked && (await dst.exists(node.desc))) {
      if (!node.bytes) skipped.add(node.desc.digest)
      return 'exists'
    }
    // Another transfer failed while this one asked: start nothing new (its refusal would repeat).
    if (failed !== undefined) throw failed
    if (!node.bytes) {
      const outcome = await send(node)
      if (outcome === 'exists') skipped.add(node.desc.digest)
      return outcome
    }
    try {
      return await send(node)
    } catch (err) {
      const doubted = node.children.filter((c) => skipped.has(c.desc.digest))
      if (!isBlobUnknown(err) || doubted.length === 0) throw err
      // The registry said it had these blobs (Artifactory's HEAD can) and then denied them: send
      // them after all, then the manifest once more.
      for (const child of doubted) {
        skipped.delete(child.desc.digest)
        const outcome = await send(child)
        if (outcome === 'uploaded') bytesSent += child.desc.size
        emit({ type: 'blob', desc: child.desc, outcome, ms: 0, target: dst.name })
      }
      return send(node)
    }
  }

  // Faults worth trying again are tried again where they are met, by the registry side (its
  // client, uploads and downloads): what reaches the engine is final.
  const transfer = async (node: GraphNode): Promise<void> => {
    const started = Date.now()
    if (failed !== undefined) throw failed
    try {
      const outcome = await transferOnce(node)
      if (outcome === 'uploaded') bytesSent += node.desc.size
      const type = node.bytes ? 'manifest' : 'blob'
      emit({ type, desc: node.desc, outcome, ms: Date.now() - started, target: dst.name })
    } catch (err) {
      failed ??= err
      throw err
    }
  }

  // Children before parents: a node starts once all it names are in place.
  const place = (node: GraphNode): Promise<void> => {
    let p = done.get(node.desc.digest)
    if (!p) {
      p = (async () => {
        await Promise.all(node.children.map(place))
        const t = limit(node)(() => transfer(node))
        inFlight.add(t)
        try {
          await t
        } catch (err) {
          failed ??= err
          throw err
        } finally {
          inFlight.delete(t)
        }
      })()
      done.set(node.desc.digest, p)
    }
    return p
  }

  try {
    await place(graph.root)
  } catch (err) {
    // Let transfers already on the wire finish or fail before reporting, so none is left dangling.
    await Promise.allSettled([...inFlight])
    throw failed ?? err
  }

  return { root: graph.root.desc, graph, nodes: graph.nodes.length, bytesTotal, bytesSent }
}

/** A manifest refused because the registry lacks a blob it names. */
function isBlobUnknown(err: unknown): boolean {
  return (
    err instanceof RegistryError &&
    err.errors.some((e) => e.code === 'MANIFEST_BLOB_UNKNOWN' || e.code === 'BLOB_UNKNOWN')
  )
}

/**
 * A blob of the source as content to push: each open reads it afresh into slabs and checks it
 * against the descriptor.
 */
class SourceContent implements BlobContent {
  readonly #src: Source
  readonly #desc: Descriptor
  readonly #onProgress?: (bytes: number) => void

  constructor(src: Source, desc: Descriptor, onProgress?: (bytes: number) => void) {
    this.#src = src
    this.#desc = desc
    this.#onProgress = onProgress
  }

  get size(): number {
    return this.#desc.size
  }

  async open(start = 0): Promise<BlobCursor> {
    const desc = this.#desc
    const what = `${isManifestType(desc.mediaType) ? 'manifest' : 'blob'} ${desc.digest} in ${this.#src.name}`
    const source = await this.#src.open(desc)
    let last = Date.now()
    const report = this.#onProgress
    const cursor = new BlobCursor(
      source,
      desc,
      what,
      report &&
        ((bytes) => {
          const now = Date.now()
          if (now - last < PROGRESS_INTERVAL_MS) return
          last = now
          report(bytes)
        }),
      this.#src.mismatchHint
    )
    try {
      if (start > 0) await cursor.skip(start)
    } catch (err) {
      await cursor.close()
      throw err
    }
    return cursor
  }
}
