import type { Sink } from '../content/sink.js'
import type { Source } from '../content/source.js'
import { isManifestType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'
import { copyGraph, type CopyOptions } from './copy.js'
import type { Graph } from './graph.js'

export interface ReferrerOptions extends CopyOptions {
  /** Only referrers of this artifact type (their own referrers follow regardless). */
  artifactType?: string
}

/** Referrers of referrers are followed this deep (a signature of an SBOM of an image is 2). */
const MAX_REFERRER_DEPTH = 8

/**
 * Copies the referrers of every manifest in a copied graph (and theirs in turn) after their
 * subjects, then lets the destination record them (a fallback tag on registries without the
 * referrers API, untagged index.json entries in a layout). Returns the referrers copied.
 */
export async function copyReferrers(
  src: Source,
  dst: Sink,
  graph: Graph,
  opts: ReferrerOptions = {}
): Promise<Descriptor[]> {
  if (!src.referrers) return []
  const copied = new Map<string, Descriptor>()
  const seen = new Set(graph.nodes.map((n) => n.desc.digest))
  const visit = async (g: Graph, depth: number): Promise<void> => {
    const subjects = g.nodes.filter(
      (n) => n.bytes !== undefined && isManifestType(n.desc.mediaType)
    )
    for (const subject of subjects) {
      const found = await src.referrers!(subject.desc, depth === 0 ? opts.artifactType : undefined)
      for (const r of found) {
        if (copied.has(r.digest)) continue
        copied.set(r.digest, r)
        // A referrer that is also part of what was copied (a cycle through `subject`) is recorded, not copied again.
        if (seen.has(r.digest)) continue
        seen.add(r.digest)
        const result = await copyGraph(src, r, dst, opts)
        if (depth + 1 < MAX_REFERRER_DEPTH) await visit(result.graph, depth + 1)
      }
      if (found.length && dst.addReferrers) await dst.addReferrers(subject.desc, found)
    }
  }
  await visit(graph, 0)
  return [...copied.values()]
}
