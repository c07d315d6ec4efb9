/** The OCI descriptor and manifest shapes the engine reads; unknown fields are kept in the raw bytes. */
export interface Platform {
  architecture: string
  os: string
  variant?: string
  'os.version'?: string
  'os.features'?: string[]
}

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
  platform?: Platform
  artifactType?: string
  urls?: string[]
}

export interface ImageManifest {
  schemaVersion: 2
  mediaType?: string
  artifactType?: string
  config: Descriptor
  layers: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

export interface ImageIndex {
  schemaVersion: 2
  mediaType?: string
  artifactType?: string
  manifests: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return 'unknown platform'
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== '').join('/')
}

export function shortDigest(digest: string): string {
  const i = digest.indexOf(':')
  return i < 0 ? digest.slice(0, 12) : digest.slice(i + 1, i + 13)
}
