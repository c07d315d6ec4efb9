// Choosing one platform's manifest from an index, for a pull that asks for one.
import { readContent, type Source } from '../content/source.js'
import { NotFoundError } from '../errors/errors.js'
import { imagePlatforms } from '../copy/platforms.js'
import { verifyBuffer } from '../oci/digest.js'
import { parseManifest } from '../oci/manifest.js'
import { MAX_MANIFEST_BYTES } from '../oci/media-types.js'
import { selectPlatform } from '../oci/platform.js'
import { formatPlatform, type Descriptor, type Platform } from '../oci/types.js'

/** The manifest of `root` for `platform`: a child of an index, or root itself when it runs there. */
export async function pickPlatform(
  repo: Source,
  root: Descriptor,
  platform: string
): Promise<Descriptor> {
  const bytes = await readContent(repo, root, MAX_MANIFEST_BYTES, root.digest)
  verifyBuffer(bytes, root, `manifest ${root.digest} of ${repo.name}`, repo.mismatchHint)
  const parsed = parseManifest(bytes, root.mediaType, `manifest ${root.digest} of ${repo.name}`)
  if (parsed.kind !== 'index') {
    // A single manifest is taken only when it runs on the platform asked for.
    const have = await imagePlatforms(repo, { desc: root, bytes, children: [] })
    const self = { mediaType: root.mediaType, digest: root.digest, size: root.size }
    if (have.length === 1 && selectPlatform([{ ...self, platform: toPlatform(have[0]) }], platform))
      return root
    throw new NotFoundError(`${repo.name}@${root.digest} has no ${platform} image`, {
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
    throw new NotFoundError(`${repo.name}@${root.digest} has no ${platform} image`, {
      hint: `platforms here: ${have.join(', ') || 'none'}`
    })
  }
  return chosen
}

/** `os/arch[/variant]` back into a platform, to match it as an index child would be. */
function toPlatform(spec: string): Platform {
  const [os, architecture, variant] = spec.split('/')
  return variant ? { os, architecture, variant } : { os, architecture }
}
