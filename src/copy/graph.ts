import {
  MissingContentError,
  NotFoundError,
  OciError,
  SizeMismatchError
} from '../errors/errors.js'
import { readContent, type Source } from '../content/source.js'
import { isDigest, verifyBuffer } from '../oci/digest.js'
import { parseManifest, successors } from '../oci/manifest.js'
import { MAX_MANIFEST_BYTES, isManifestType } from '../oci/media-types.js'
import { formatPlatform, shortDigest, type Descriptor } from '../oci/types.js'

/** One node of the content graph under a root: a manifest (with its bytes) or a blob. */
export interface GraphNode {
  desc: Descriptor
  /** The manifest's bytes, exactly as stored; absent for blobs. */
  bytes?: Buffer
  children: GraphNode[]
}

export interface Graph {
  root: GraphNode
  /** Every distinct node, children before parents. */
  nodes: GraphNode[]
}

/**
 * How deep manifests may nest under the root, the root counting as one: an image index of image
 * indexes is two, with the image manifests under it three. Real images stay within a handful.
 */
export const MAX_GRAPH_DEPTH = 32

export interface LoadGraphOptions {
  /** Overrides MAX_GRAPH_DEPTH. */
  maxDepth?: number
  /**
   * Further edges out of a loaded manifest, followed after its own descriptors (e.g. referrers).
   * Unlike the descriptors inside a manifest, which name their targets by hash and so cannot
   * form a cycle, such edges can: a cycle is reported, never followed forever.
   */
  extraSuccessors?: (node: GraphNode) => Promise<Descriptor[]>
}

/** One reference from a manifest (or the caller, for the root) and what it led to. */
interface Edge {
  desc: Descriptor
  /** Whether the reference is an index's entry, whose absence makes a partial layout. */
  fromIndex: boolean
  outcome?: { node: GraphNode } | { error: unknown }
}

/**
 * Reads every manifest under `root` from the source (small, verified, kept in memory) and checks
 * that the blobs they name are present, so nothing is sent until the whole graph is known good.
 *
 * Two passes: the first loads every reachable manifest concurrently, each digest once, and records
 * what each reference led to (a node or an error) without ever waiting on a descendant, so no
 * shape of graph can make it wait on itself; it stops descending past the depth limit. The second
 * walks the loaded graph from the root in order, so the error reported is the first one in
 * document order whatever the timing, detects cycles, and measures the nesting depth.
 */
export async function loadGraph(
  src: Source,
  root: Descriptor,
  opts: LoadGraphOptions = {}
): Promise<Graph> {
  const maxDepth = opts.maxDepth ?? MAX_GRAPH_DEPTH
  const byDigest = new Map<string, Promise<GraphNode>>()
  const edgesOf = new Map<GraphNode, Edge[]>()
  const work: Promise<void>[] = []

  const tooDeep = (what: string): OciError =>
    new OciError(
      `${src.name}: manifests nest more than ${maxDepth} levels deep under ${root.digest} (at ${what})`,
      { hint: 'no real image nests this deep; the layout is damaged or hostile' }
    )

  // ---- pass 1: load ----
  const follow = (edge: Edge, depth: number): void => {
    work.push(
      reach(edge.desc, depth).then(
        (node) => {
          edge.outcome = { node }
        },
        (error: unknown) => {
          edge.outcome = { error }
        }
      )
    )
  }

  /** Checks one reference (digest, presence, size) and loads what it names, once per digest. */
  const reach = async (desc: Descriptor, depth: number): Promise<GraphNode> => {
    const manifest = isManifestType(desc.mediaType)
    const what = `${manifest ? 'manifest' : 'blob'} ${desc.digest} in ${src.name}`
    if (!isDigest(desc.digest)) {
      throw new OciError(`${what}: unsupported digest`, {
        hint: 'only sha256 and sha512 digests can be verified'
      })
    }
    if (src.size) {
      const size = await src.size(desc)
      if (size === undefined) throw new MissingContentError(desc.digest, `${what} is missing`)
      if (size !== desc.size) throw new SizeMismatchError(desc.size, size, what)
    }
    let node = byDigest.get(desc.digest)
    if (!node) {
      if (manifest && depth > maxDepth) throw tooDeep(what)
      node = manifest ? load(desc, depth, what) : Promise.resolve({ desc, children: [] })
      byDigest.set(desc.digest, node)
    }
    return node
  }

  const load = async (desc: Descriptor, depth: number, what: string): Promise<GraphNode> => {
    if (desc.size > MAX_MANIFEST_BYTES)
      throw new OciError(
        `${what} is ${desc.size} bytes, over the ${MAX_MANIFEST_BYTES}-byte manifest limit`
      )
    const bytes = await readContent(src, desc, MAX_MANIFEST_BYTES, what)
    verifyBuffer(bytes, desc, what, src.mismatchHint)
    const parsed = parseManifest(bytes, desc.mediaType, what)
    const node: GraphNode = { desc: { ...desc, mediaType: parsed.mediaType }, bytes, children: [] }
    const own = successors(parsed).map((d) => ({ desc: d, fromIndex: parsed.kind === 'index' }))
    const extra = opts.extraSuccessors ? await opts.extraSuccessors(node) : []
    const edges: Edge[] = [...own, ...extra.map((d) => ({ desc: d, fromIndex: false }))]
    edgesOf.set(node, edges)
    for (const edge of edges) follow(edge, depth + 1)
    return node
  }

  const rootEdge: Edge = { desc: root, fromIndex: false }
  follow(rootEdge, 1)
  // Every settled promise may have queued more; none of them rejects.
  for (let i = 0; i < work.length; i++) await work[i]

  // ---- pass 2: walk ----
  const onPath: GraphNode[] = []
  const height = new Map<GraphNode, number>()
  const order: GraphNode[] = []
  const missing: { desc: Descriptor; parent: GraphNode }[] = []

  const target = (edge: Edge, parent: GraphNode | undefined): GraphNode => {
    const outcome = edge.outcome as { node: GraphNode } | { error: unknown }
    if ('error' in outcome) throw parent ? annotate(outcome.error, parent) : outcome.error
    const node = outcome.node
    if (node.desc.size !== edge.desc.size) {
      // Two references to one digest disagree on its size (a source without sizes to check).
      throw new SizeMismatchError(
        edge.desc.size,
        node.desc.size,
        `${node.bytes ? 'manifest' : 'blob'} ${edge.desc.digest} in ${src.name}`
      )
    }
    return node
  }

  /** Post-order walk; returns the node's height in manifests (a blob is 0). */
  const walk = (node: GraphNode): number => {
    const known = height.get(node)
    if (known !== undefined) return known
    if (!node.bytes) {
      height.set(node, 0)
      order.push(node)
      return 0
    }
    const at = onPath.indexOf(node)
    if (at >= 0) {
      const cycle = [...onPath.slice(at), node].map((n) => shortDigest(n.desc.digest))
      throw new OciError(
        `${src.name}: ${shortDigest(node.desc.digest)} leads back to itself (${cycle.join(' → ')})`,
        { hint: 'the index is cyclic; select another entry' }
      )
    }
    onPath.push(node)
    if (onPath.length > maxDepth) throw tooDeep(`manifest ${node.desc.digest}`)
    let below = 0
    for (const edge of edgesOf.get(node) ?? []) {
      const outcome = edge.outcome
      if (
        outcome &&
        'error' in outcome &&
        edge.fromIndex &&
        outcome.error instanceof MissingContentError &&
        outcome.error.digest === edge.desc.digest
      ) {
        missing.push({ desc: edge.desc, parent: node })
        continue
      }
      const child = target(edge, node)
      below = Math.max(below, walk(child))
      node.children.push(child)
    }
    onPath.pop()
    if (below + 1 > maxDepth) throw tooDeep(`manifest ${node.desc.digest}`)
    height.set(node, below + 1)
    order.push(node)
    return below + 1
  }

  const root0 = target(rootEdge, undefined)
  walk(root0)
  if (missing.length) throw partialIndexError(src, missing)
  return { root: root0, nodes: order }
}

/** Names the manifest that referenced a missing blob. */
function annotate(err: unknown, parent: GraphNode): unknown {
  if (err instanceof MissingContentError && !err.message.includes('referenced by')) {
    return new NotFoundError(`${err.message} (referenced by manifest ${parent.desc.digest})`, {
      hint: err.hint ?? 'the layout is incomplete; export it again with all its blobs'
    })
  }
  return err
}

function partialIndexError(
  src: Source,
  missing: { desc: Descriptor; parent: GraphNode }[]
): OciError {
  const parent = missing[0].parent
  const present = parent.children.filter((c) => isManifestType(c.desc.mediaType))
  const total = present.length + missing.filter((m) => m.parent === parent).length
  const shown = missing.slice(0, 12).map((m) => formatPlatform(m.desc.platform))
  if (missing.length > shown.length) shown.push(`and ${missing.length - shown.length} more`)
  const names = shown.join(', ')
  const hint = present.length
    ? `push a platform that is present by digest, e.g. layout: ${src.name}@${present[0].desc.digest} (${formatPlatform(present[0].desc.platform)})`
    : 'export the layout again with every platform'
  return new NotFoundError(
    `${src.name} is a partial multi-platform layout: index ${shortDigest(parent.desc.digest)} lists ${total} platforms, ${missing.length} missing (${names})`,
    { hint }
  )
}
