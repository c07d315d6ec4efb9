import { LayoutError } from '../errors/errors.js'
import { checkDescriptor, describeValue } from '../oci/manifest.js'
import { Annotation } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'

/** The parsed index.json of a layout. */
export interface LayoutIndex {
  schemaVersion: 2
  mediaType?: string
  manifests: Descriptor[]
  annotations?: Record<string, string>
}

export function parseIndexJson(bytes: Buffer, location: string): LayoutIndex {
  let json: unknown
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new LayoutError(`${location}: index.json is not valid JSON (${(err as Error).message})`, {
      hint: 'the layout is corrupt; write it again'
    })
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new LayoutError(`${location}: index.json is ${describeValue(json)}, not a JSON object`, {
      hint: 'the layout is corrupt; write it again'
    })
  }
  const obj = json as Record<string, unknown>
  if (
    obj.manifests === null ||
    obj.manifests === undefined ||
    (Array.isArray(obj.manifests) && obj.manifests.length === 0)
  ) {
    throw new LayoutError(
      `${location}: index.json lists no images ("manifests" is ${Array.isArray(obj.manifests) ? '[]' : describeValue(obj.manifests ?? null)})`,
      {
        hint: 'nothing to push; `docker save` output is not an OCI layout: export with `docker buildx build -o type=oci,dest=FILE` instead'
      }
    )
  }
  if (!Array.isArray(obj.manifests))
    throw new LayoutError(
      `${location}: index.json "manifests" is ${describeValue(obj.manifests)}, not a list`
    )
  if (obj.schemaVersion !== 2) {
    throw new LayoutError(
      `${location}: index.json has schemaVersion ${describeValue(obj.schemaVersion)}; only 2 is supported`
    )
  }
  if (obj.mediaType !== undefined && typeof obj.mediaType !== 'string')
    throw new LayoutError(
      `${location}: index.json has mediaType ${describeValue(obj.mediaType)}, not a string`
    )
  const where = `${location}: index.json`
  obj.manifests.forEach((d, i) => {
    try {
      checkDescriptor(d, `manifests[${i}]`)
    } catch (err) {
      throw new LayoutError(`${where} ${(err as Error).message}`, {
        hint: 'the layout is corrupt; write it again'
      })
    }
  })
  return obj as unknown as LayoutIndex
}

/** The tag an entry is known by: its bare ref.name, or the tag of a full reference. */
export function entryTags(d: Descriptor): string[] {
  const names = [d.annotations?.[Annotation.RefName], d.annotations?.[Annotation.ContainerdName]]
  const tags = new Set<string>()
  names.forEach((name, i) => {
    if (!name) return
    const slash = name.lastIndexOf('/')
    const colon = name.lastIndexOf(':')
    if (colon > slash) tags.add(name.slice(colon + 1))
    else if (i === 0 && slash < 0) tags.add(name) // a bare ref.name is the tag itself
  })
  return [...tags]
}

/** An index.json entry naming content: the descriptor's core plus the given annotations. */
export function indexEntry(desc: Descriptor, annotations: Record<string, string> = {}): Descriptor {
  const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }
  if (Object.keys(annotations).length) entry.annotations = annotations
  return entry
}

/** An untagged index.json entry for a referrer, keeping its artifactType. */
export function referrerEntry(desc: Descriptor): Descriptor {
  const entry = indexEntry(desc)
  if (desc.artifactType) entry.artifactType = desc.artifactType
  return entry
}
