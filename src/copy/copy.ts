import { pipeline } from 'node:stream'
import type { Readable } from 'node:stream'
import type { ReadOnlyTarget, Target } from '../content/target.js'
import { VerifyingStream } from '../oci/digest.js'
import { isManifestType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'
import { loadGraph, type GraphNode } from './graph.js'
import { createLimiter } from './limiter.js'

export type TransferOutcome = 'uploaded' | 'mounted' | 'exists'

export type CopyEvent =
  | { type: 'graph'; nodes: number; blobs: number; bytes: number }
  | { type: 'blob' | 'manifest'; desc: Descriptor; outcome: TransferOutcome; ms: number }
  | { type: 'tag'; desc: Descriptor; tag: string }

export interface CopyOptions {
  /** How many blobs move at once. */
  concurrency?: number
  /** Tags to point at the root once everything under it is in place. */
  tags?: string[]
  onEvent?: (event: CopyEvent) => void
}

export const DEFAULT_CONCURRENCY = 4

export interface CopyResult {
  root: Descriptor
  /** Distinct manifests and blobs in the graph. */
  nodes: number
  bytesTotal: number
  bytesSent: number
}

/**
 * Copies the graph under `srcRef` from one target to another: push is layout → registry, pull
 * is registry → layout. The source graph is read and checked first; then blobs move in parallel
 * (skipping what the destination has), each manifest only after everything it names, and tags
 * last, so a failure never leaves a tag on an incomplete image.
 */
export async function copy(
  src: ReadOnlyTarget,
  srcRef: string,
  dst: Target,
  opts: CopyOptions = {}
): Promise<CopyResult> {
  const rootDesc = await src.resolve(srcRef)
  return copyGraph(src, rootDesc, dst, opts)
}

export async function copyGraph(
  src: ReadOnlyTarget,
  rootDesc: Descriptor,
  dst: Target,
  opts: CopyOptions = {}
): Promise<CopyResult> {
  const emit = opts.onEvent ?? (() => {})
  const graph = await loadGraph(src, rootDesc)
  const blobs = graph.nodes.filter((n) => !n.bytes)
  const bytesTotal = graph.nodes.reduce((sum, n) => sum + n.desc.size, 0)
  emit({ type: 'graph', nodes: graph.nodes.length, blobs: blobs.length, bytes: bytesTotal })

  const limit = createLimiter(Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY))
  const done = new Map<string, Promise<void>>()
  const inFlight = new Set<Promise<unknown>>()
  let failed: unknown
  let bytesSent = 0

  const transfer = async (node: GraphNode): Promise<void> => {
    if (failed !== undefined) throw failed
    const started = Date.now()
    const manifest = node.bytes !== undefined
    let outcome: TransferOutcome
    if (await dst.exists(node.desc)) outcome = 'exists'
    else {
      outcome = await dst.push(
        node.desc,
        manifest ? (node.bytes as Buffer) : () => openVerified(src, node.desc)
      )
      if (outcome === 'uploaded') bytesSent += node.desc.size
    }
    emit({
      type: manifest ? 'manifest' : 'blob',
      desc: node.desc,
      outcome,
      ms: Date.now() - started
    })
  }

  // Children before parents: a node starts once all it names are in place.
  const place = (node: GraphNode): Promise<void> => {
    let p = done.get(node.desc.digest)
    if (!p) {
      p = (async () => {
        await Promise.all(node.children.map(place))
        const t = limit(() => transfer(node))
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

  for (const tag of opts.tags ?? []) {
    await dst.tag(graph.root.desc, tag)
    emit({ type: 'tag', desc: graph.root.desc, tag })
  }
  return { root: graph.root.desc, nodes: graph.nodes.length, bytesTotal, bytesSent }
}

/** Opens a blob from the source behind a stream that fails unless its bytes match the descriptor. */
async function openVerified(src: ReadOnlyTarget, desc: Descriptor): Promise<Readable> {
  const raw = await src.fetch(desc)
  const verifier = new VerifyingStream(
    desc,
    `${isManifestType(desc.mediaType) ? 'manifest' : 'blob'} ${desc.digest} in ${src.name}`
  )
  pipeline(raw, verifier, () => {})
  return verifier
}
