/** Media types the copy engine needs to tell manifests from blobs. */
export const MediaType = {
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  OciLayoutHeader: 'application/vnd.oci.layout.header.v1+json'
} as const

const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.OciIndex, MediaType.DockerManifestList])
const IMAGE_MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MediaType.OciManifest,
  MediaType.DockerManifest
])

/** Every manifest type, for Accept headers: some registries answer 404 unless all four are listed. */
export const MANIFEST_TYPES: readonly string[] = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest
]

export function isManifestType(mediaType: string | undefined): boolean {
  return (
    mediaType !== undefined && (INDEX_TYPES.has(mediaType) || IMAGE_MANIFEST_TYPES.has(mediaType))
  )
}

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_TYPES.has(mediaType)
}

/** Annotations written and read in index.json. */
export const Annotation = {
  RefName: 'org.opencontainers.image.ref.name',
  ContainerdName: 'io.containerd.image.name',
  DockerReferenceType: 'vnd.docker.reference.type',
  /** An artifact layer's file name (oras). */
  Title: 'org.opencontainers.image.title',
  /** A layer that is a directory packed as tar+gzip, to unpack (oras). */
  Unpack: 'io.deis.oras.content.unpack',
  /** The digest of a packed directory's tar before gzip (oras). */
  TarDigest: 'io.deis.oras.content.digest'
} as const

/** A manifest larger than this is refused: the common registry limit, and a guard on memory. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
