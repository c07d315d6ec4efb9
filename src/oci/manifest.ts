import { OciError } from '../content/errors.js'
import { MediaType, isIndexType } from './media-types.js'
import type { Descriptor, ImageIndex, ImageManifest } from './types.js'

/** A manifest or index, parsed and checked enough to walk its graph safely. */
export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

export function checkDescriptor(v: unknown, where: string): Descriptor {
  if (
    !isObject(v) ||
    typeof v.mediaType !== 'string' ||
    typeof v.digest !== 'string' ||
    typeof v.size !== 'number' ||
    !Number.isSafeInteger(v.size) ||
    v.size < 0
  ) {
    throw new OciError(
      `${where}: not a valid descriptor (needs mediaType, digest and a non-negative size)`
    )
  }
  return v as unknown as Descriptor
}

/**
 * Parses manifest bytes. The media type comes from the JSON's own `mediaType`, else from the
 * descriptor that pointed here, else from its shape (older OCI manifests omit the field).
 */
export function parseManifest(
  bytes: Buffer,
  descMediaType: string | undefined,
  what: string
): ParsedManifest {
  let json: unknown
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new OciError(`${what} is not valid JSON (${(err as Error).message})`)
  }
  if (!isObject(json)) throw new OciError(`${what} is not a JSON object`)
  if (json.schemaVersion !== 2) {
    throw new OciError(
      `${what} has schemaVersion ${JSON.stringify(json.schemaVersion)}; only 2 is supported`
    )
  }
  const own = typeof json.mediaType === 'string' ? json.mediaType : undefined
  const mediaType =
    own ??
    descMediaType ??
    (Array.isArray(json.manifests) ? MediaType.OciIndex : MediaType.OciManifest)
  if (json.subject !== undefined) checkDescriptor(json.subject, `${what} subject`)
  if (isIndexType(mediaType) || (own === undefined && Array.isArray(json.manifests))) {
    if (!Array.isArray(json.manifests))
      throw new OciError(`${what}: an index needs a "manifests" list`)
    json.manifests.forEach((d, i) => checkDescriptor(d, `${what} manifests[${i}]`))
    return { kind: 'index', mediaType, index: json as unknown as ImageIndex }
  }
  checkDescriptor(json.config, `${what} config`)
  if (!Array.isArray(json.layers)) throw new OciError(`${what}: a manifest needs a "layers" list`)
  json.layers.forEach((d, i) => checkDescriptor(d, `${what} layers[${i}]`))
  return { kind: 'manifest', mediaType, manifest: json as unknown as ImageManifest }
}

/** The content a manifest points down to: what must exist before it can be pushed. */
export function successors(parsed: ParsedManifest): Descriptor[] {
  return parsed.kind === 'index'
    ? parsed.index.manifests
    : [parsed.manifest.config, ...parsed.manifest.layers]
}
