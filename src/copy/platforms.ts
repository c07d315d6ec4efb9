import { readContent, type Source } from '../content/source.js'
import { verifyBuffer } from '../oci/digest.js'
import { parseManifest } from '../oci/manifest.js'
import { formatPlatform, type Platform } from '../oci/types.js'
import type { GraphNode } from './graph.js'

/**
 * The platforms an image runs on: an index's children (attestation manifests, `unknown/unknown`,
 * left out), or a single manifest's config. Best effort: an artifact has none.
 */
export async function imagePlatforms(src: Source, root: GraphNode): Promise<string[]> {
  if (!root.bytes) return []
  const parsed = parseManifest(root.bytes, root.desc.mediaType, `manifest ${root.desc.digest}`)
  if (parsed.kind === 'index') {
    const all = parsed.index.manifests
      .map((d) => d.platform)
      .filter((p): p is Platform => p !== undefined && p.os !== 'unknown')
      .map(formatPlatform)
    return [...new Set(all)]
  }
  const config = parsed.manifest.config
  if (config.size > 1 << 20 || !/config|container\.image/.test(config.mediaType)) return []
  try {
    const bytes = await readContent(src, config, 1 << 20, config.digest)
    verifyBuffer(bytes, config, `config ${config.digest}`)
    const json = JSON.parse(bytes.toString('utf8')) as Partial<Platform>
    if (typeof json.os !== 'string' || typeof json.architecture !== 'string') return []
    return [formatPlatform(json as Platform)]
  } catch {
    return []
  }
}
