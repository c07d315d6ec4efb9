import { readContent, readManifest, type Source } from '../content/source.js'
import { NotFoundError } from '../errors/errors.js'
import { verifyBuffer } from '../oci/digest.js'
import { parseManifest } from '../oci/manifest.js'
import { selectPlatform } from '../oci/platform.js'
import { formatPlatform, type Descriptor, type Platform } from '../oci/types.js'
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

/**
 * The manifest of one platform under `root`: an index's child, or `root` itself when it is a
 * single manifest that runs there. Anything else is a NotFoundError naming what is there.
 */
export async function pickPlatform(
  src: Source,
  root: Descriptor,
  platform: string
): Promise<Descriptor> {
  const { bytes, parsed } = await readManifest(src, root)
  if (parsed.kind !== 'index') {
    // A single manifest is taken only when it runs on the platform asked for.
    const have = await imagePlatforms(src, { desc: root, bytes, children: [] })
    const self = { mediaType: root.mediaType, digest: root.digest, size: root.size }
    if (have.length === 1 && selectPlatform([{ ...self, platform: toPlatform(have[0]) }], platform))
      return root
    throw new NotFoundError(`${src.name}@${root.digest} has no ${platform} image`, {
      hint: have.length
        ? `platforms here: ${have.join(', ')}; pick that one or drop the platform input`
        : 'it is a single manifest that names no platform (an artifact); drop the platform input'
    })
  }
  const chosen = selectPlatform(parsed.index.manifests, platform)
  if (!chosen) {
    const have = parsed.index.manifests
      .filter((d) => d.platform && d.platform.os !== 'unknown')
      .map((d) => formatPlatform(d.platform))
    throw new NotFoundError(`${src.name}@${root.digest} has no ${platform} image`, {
      hint: `platforms here: ${have.join(', ') || 'none'}`
    })
  }
  return chosen
}

/** `os/arch[/variant]` back into a platform, to match it as an index child would be. */
export function toPlatform(spec: string): Platform {
  const [os, architecture, variant] = spec.split('/')
  return variant ? { os, architecture, variant } : { os, architecture }
}
