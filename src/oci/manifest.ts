import { OciError } from '../errors/errors.js'
import { MediaType, isIndexType, isManifestType } from './media-types.js'
import type { Descriptor, ImageIndex, ImageManifest } from './types.js'

/** A manifest or index, parsed and checked enough to walk its graph safely. */
export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest }

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** The digest grammar of the image spec (`algorithm:encoded`), with a sane bound on length. */
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/
const MAX_DIGEST_LENGTH = 256

/**
 * A short, safe rendering of a JSON value for an error message: never the whole of a large or
 * deeply nested value (stringifying that could take the stack or the log with it).
 */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'missing'
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (typeof v === 'string') {
    return v.length > 40 ? `${JSON.stringify(v.slice(0, 40))}…` : JSON.stringify(v)
  }
  if (Array.isArray(v)) return 'a list'
  return 'an object'
}

const isStringMap = (v: unknown): boolean =>
  isObject(v) && Object.values(v).every((s) => typeof s === 'string')

const isStringList = (v: unknown): boolean =>
  Array.isArray(v) && v.every((s) => typeof s === 'string')

/** Why `v` is not a descriptor, or undefined when it is one. */
function descriptorProblem(v: unknown): string | undefined {
  if (!isObject(v)) return `is ${describeValue(v)}, not a descriptor object`
  if (typeof v.mediaType !== 'string') return `mediaType is ${describeValue(v.mediaType)}`
  if (typeof v.digest !== 'string') return `digest is ${describeValue(v.digest)}`
  if (v.digest.length > MAX_DIGEST_LENGTH || !DIGEST_GRAMMAR.test(v.digest))
    return `digest ${describeValue(v.digest)} is not a valid digest`
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0)
    return `size is ${describeValue(v.size)}, not a non-negative integer`
  if (v.annotations !== undefined && !isStringMap(v.annotations))
    return 'annotations must map strings to strings'
  if (v.artifactType !== undefined && typeof v.artifactType !== 'string')
    return `artifactType is ${describeValue(v.artifactType)}`
  if (v.urls !== undefined && !isStringList(v.urls)) return 'urls must be a list of strings'
  if (v.data !== undefined && typeof v.data !== 'string') return 'data must be a base64 string'
  if (v.platform !== undefined) {
    const p = v.platform
    if (
      !isObject(p) ||
      typeof p.os !== 'string' ||
      typeof p.architecture !== 'string' ||
      (p.variant !== undefined && typeof p.variant !== 'string') ||
      (p['os.version'] !== undefined && typeof p['os.version'] !== 'string') ||
      (p['os.features'] !== undefined && !isStringList(p['os.features']))
    )
      return 'platform needs string os and architecture'
  }
  return undefined
}

/** Checks the shape of a descriptor: the fields the engine reads, with the types the spec gives. */
export function checkDescriptor(v: unknown, where: string): Descriptor {
  const problem = descriptorProblem(v)
  if (problem !== undefined)
    throw new OciError(`${where}: not a valid descriptor (${problem})`, {
      hint: 'a descriptor needs a string mediaType, a digest and a non-negative integer size'
    })
  return v as Descriptor
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
  if (!isObject(json)) throw new OciError(`${what} is ${describeValue(json)}, not a JSON object`)
  if (json.schemaVersion !== 2) {
    throw new OciError(
      `${what} has schemaVersion ${describeValue(json.schemaVersion)}; only 2 is supported`
    )
  }
  if (json.mediaType !== undefined && typeof json.mediaType !== 'string')
    throw new OciError(`${what} has mediaType ${describeValue(json.mediaType)}, not a string`)
  const own = json.mediaType
  if (own !== undefined && !isManifestType(own))
    throw new OciError(
      `${what} has mediaType ${describeValue(own)}, which is not an image manifest or index`
    )
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
