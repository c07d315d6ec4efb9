import {
  MissingContentError,
  NotFoundError,
  OciError,
  SizeMismatchError
} from '../content/errors.js'
import { readAll, type ReadOnlyTarget } from '../content/target.js'
import { verifyBuffer } from '../oci/digest.js'
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
 * Reads every manifest under `root` from the source (small, verified, kept in memory) and checks
 * that the blobs they name are present, so nothing is sent until the whole graph is known good.
 */
export async function loadGraph(src: ReadOnlyTarget, root: Descriptor): Promise<Graph> {
  const memo = new Map<string, Promise<GraphNode>>()
  const order: GraphNode[] = []
  const missing: { desc: Descriptor; parent: GraphNode }[] = []

  const visit = (desc: Descriptor, path: string[]): Promise<GraphNode> => {
    if (path.includes(desc.digest)) {
      throw new OciError(
        `${src.name}: ${shortDigest(desc.digest)} leads back to itself (${[...path, desc.digest].map(shortDigest).join(' → ')})`,
        {
          hint: 'the index is cyclic; select another entry'
        }
      )
    }
    let node = memo.get(desc.digest)
    if (!node) {
      node = load(desc, [...path, desc.digest])
      memo.set(desc.digest, node)
    }
    return node
  }

  const load = async (desc: Descriptor, path: string[]): Promise<GraphNode> => {
    const what = `${isManifestType(desc.mediaType) ? 'manifest' : 'blob'} ${desc.digest} in ${src.name}`
    if (src.size) {
      const size = await src.size(desc)
      if (size === undefined) throw new MissingContentError(desc.digest, `${what} is missing`)
      if (size !== desc.size) throw new SizeMismatchError(desc.size, size, what)
    }
    if (!isManifestType(desc.mediaType)) {
      const node: GraphNode = { desc, children: [] }
      order.push(node)
      return node
    }
    if (desc.size > MAX_MANIFEST_BYTES)
      throw new OciError(
        `${what} is ${desc.size} bytes, over the ${MAX_MANIFEST_BYTES}-byte manifest limit`
      )
    const bytes = await readAll(await src.fetch(desc), MAX_MANIFEST_BYTES, what)
    verifyBuffer(bytes, desc, what)
    const parsed = parseManifest(bytes, desc.mediaType, what)
    const node: GraphNode = { desc: { ...desc, mediaType: parsed.mediaType }, bytes, children: [] }
    const kids = successors(parsed)
    const results = await Promise.allSettled(kids.map((child) => visit(child, path)))
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') node.children.push(r.value)
      else if (
        r.reason instanceof MissingContentError &&
        r.reason.digest === kids[i].digest &&
        parsed.kind === 'index'
      )
        missing.push({ desc: kids[i], parent: node })
      else throw annotate(r.reason, node)
    })
    order.push(node)
    return node
  }

  const root0 = await visit(root, [])
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
  src: ReadOnlyTarget,
  missing: { desc: Descriptor; parent: GraphNode }[]
): OciError {
  const parent = missing[0].parent
  const present = parent.children.filter((c) => isManifestType(c.desc.mediaType))
  const total = present.length + missing.filter((m) => m.parent === parent).length
  const names = missing.map((m) => formatPlatform(m.desc.platform)).join(', ')
  const hint = present.length
    ? `push a platform that is present by digest, e.g. layout: ${src.name}@${present[0].desc.digest} (${formatPlatform(present[0].desc.platform)})`
    : 'export the layout again with every platform'
  return new NotFoundError(
    `${src.name} is a partial multi-platform layout: index ${shortDigest(parent.desc.digest)} lists ${total} platforms, ${missing.length} missing (${names})`,
    { hint }
  )
}
