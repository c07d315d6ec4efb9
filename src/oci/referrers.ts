import { parseManifest } from './manifest.js'
import { MediaType } from './media-types.js'
import type { Descriptor } from './types.js'

/** The tag a registry without the referrers API keeps a subject's referrers under. */
export function fallbackTag(digest: string): string {
  return digest.replace(':', '-').slice(0, 128)
}

export function isFallbackTag(tag: string): boolean {
  return /^(sha256-[0-9a-f]{64}|sha512-[0-9a-f]{124})$/.test(tag)
}

/**
 * The descriptor of a referrer as the distribution spec lists it: its artifactType (else its
 * config's media type) and its annotations copied in. Undefined when it has no subject.
 */
export function referrerDescriptor(
  desc: Descriptor,
  bytes: Buffer
): { subject: string; desc: Descriptor } | undefined {
  const parsed = parseManifest(bytes, desc.mediaType, `manifest ${desc.digest}`)
  const m = parsed.kind === 'index' ? parsed.index : parsed.manifest
  if (!m.subject) return undefined
  const artifactType =
    m.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined)
  const out: Descriptor = { mediaType: parsed.mediaType, digest: desc.digest, size: desc.size }
  if (artifactType) out.artifactType = artifactType
  if (m.annotations && Object.keys(m.annotations).length) out.annotations = m.annotations
  return { subject: m.subject.digest, desc: out }
}

/** Merges referrers into a fallback index, keeping every entry already there. */
export function mergeReferrersIndex(
  existing: Buffer | undefined,
  add: Descriptor[]
): { bytes: Buffer; changed: boolean } {
  const index = existing
    ? (JSON.parse(existing.toString('utf8')) as { manifests?: Descriptor[] } & Record<
        string,
        unknown
      >)
    : { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] as Descriptor[] }
  const manifests = Array.isArray(index.manifests) ? index.manifests : []
  const have = new Set(manifests.map((d) => d.digest))
  const fresh = add.filter((d) => !have.has(d.digest))
  if (existing && fresh.length === 0) return { bytes: existing, changed: false }
  return {
    bytes: Buffer.from(JSON.stringify({ ...index, manifests: [...manifests, ...fresh] })),
    changed: true
  }
}
