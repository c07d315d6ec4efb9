// One image index over the platform images of several layouts (a matrix build's outputs), built
// so that the same inputs in any order give the same bytes, hence the same digest.
import { InputError } from '../errors/errors.js'
import { digestOf } from './digest.js'
import { MediaType } from './media-types.js'
import { formatPlatform, shortDigest, type Descriptor, type Platform } from './types.js'

/** BuildKit's annotations on an attestation manifest: what it is, and which manifest it describes. */
export const ATTESTATION_TYPE = 'vnd.docker.reference.type'
export const ATTESTATION_SUBJECT = 'vnd.docker.reference.digest'

/** One platform's manifest (its descriptor with `platform` set) and the layout it came from. */
export interface PlatformImage {
  layout: string
  desc: Descriptor & { platform: Platform }
}

/** What goes into the index: images, and attestation manifests naming one of them. */
export interface MergeInput {
  images: PlatformImage[]
  attestations: Descriptor[]
  annotations?: Record<string, string>
}

export interface MergedIndex {
  bytes: Buffer
  desc: Descriptor
  platforms: string[]
}

/** Whether an index child is BuildKit's attestation manifest. */
export function isAttestation(d: Descriptor): boolean {
  return d.annotations?.[ATTESTATION_TYPE] === 'attestation-manifest'
}

// Plain code-unit order: localeCompare would depend on the machine's locale.
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

const platformKey = (p: Platform): string[] => [p.os, p.architecture, p.variant ?? '']

/**
 * The merged index: one entry per platform ordered by os, architecture, variant (then digest),
 * each followed by its attestations. The same manifest twice is folded; two manifests for one
 * platform are an InputError naming both layouts.
 */
export function mergeIndex(input: MergeInput): MergedIndex {
  const byPlatform = new Map<string, PlatformImage>()
  for (const img of input.images) {
    const key = formatPlatform(img.desc.platform)
    const had = byPlatform.get(key)
    if (had && had.desc.digest !== img.desc.digest)
      throw new InputError(
        `${had.layout} and ${img.layout} both hold a ${key} image (${shortDigest(had.desc.digest)} and ${shortDigest(img.desc.digest)})`,
        {
          hint: 'merge one build per platform: drop one of the layouts, or build it for another platform'
        }
      )
    if (!had) byPlatform.set(key, img)
  }
  const images = [...byPlatform.values()].sort((a, b) => {
    const [x, y] = [platformKey(a.desc.platform), platformKey(b.desc.platform)]
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return cmp(x[i], y[i])
    return cmp(a.desc.digest, b.desc.digest)
  })
  const manifests: Descriptor[] = []
  for (const img of images) {
    manifests.push(img.desc)
    const mine = input.attestations
      .filter((a) => a.annotations?.[ATTESTATION_SUBJECT] === img.desc.digest)
      .sort((a, b) => cmp(a.digest, b.digest))
    for (const a of mine) if (!manifests.some((m) => m.digest === a.digest)) manifests.push(a)
  }
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: manifests.map(canonicalDescriptor),
    ...(input.annotations && Object.keys(input.annotations).length
      ? { annotations: sortedMap(input.annotations) }
      : {})
  }
  const bytes = Buffer.from(JSON.stringify(index), 'utf8')
  return {
    bytes,
    desc: { mediaType: MediaType.OciIndex, digest: digestOf(bytes), size: bytes.length },
    platforms: images.map((i) => formatPlatform(i.desc.platform))
  }
}

/** A descriptor with its keys in one fixed order, whatever order its JSON had them in. */
function canonicalDescriptor(d: Descriptor): Descriptor {
  const p = d.platform
  return {
    mediaType: d.mediaType,
    ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}),
    digest: d.digest,
    size: d.size,
    ...(d.urls ? { urls: d.urls } : {}),
    ...(d.annotations ? { annotations: sortedMap(d.annotations) } : {}),
    ...(p
      ? {
          platform: {
            architecture: p.architecture,
            os: p.os,
            ...(p['os.version'] !== undefined ? { 'os.version': p['os.version'] } : {}),
            ...(p['os.features'] ? { 'os.features': p['os.features'] } : {}),
            ...(p.variant !== undefined ? { variant: p.variant } : {})
          }
        }
      : {})
  }
}

function sortedMap(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => cmp(a, b)))
}

/** `key=value` lines (the annotations input, --annotation flags) into a map; blanks dropped. */
export function parseAnnotations(lines: string[], what = 'annotation'): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of lines.map((l) => l.trim()).filter(Boolean)) {
    const eq = line.indexOf('=')
    if (eq <= 0)
      throw new InputError(`${what} "${line}" is not key=value`, {
        hint: 'write one key=value a line, e.g. org.opencontainers.image.source=https://github.com/org/app'
      })
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
  }
  return out
}
