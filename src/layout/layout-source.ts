import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { readerSource, type ChunkSource } from '../content/blob-cursor.js'
import { LayoutError, NotFoundError, OciError, SizeMismatchError } from '../errors/errors.js'
import { readAll, type Source } from '../content/source.js'
import { isDigest, parseDigest, verifyBuffer } from '../oci/digest.js'
import { describeValue, parseManifest } from '../oci/manifest.js'
import { Annotation, isIndexType, isManifestType, MAX_MANIFEST_BYTES } from '../oci/media-types.js'
import { isFallbackTag, referrerDescriptor } from '../oci/referrers.js'
import { shortDigest, type Descriptor } from '../oci/types.js'
import { DirFiles, fileKind } from './dir-files.js'
import { fsReason, type LayoutFiles } from './files.js'
import { entryTags, parseIndexJson, type LayoutIndex } from './index-file.js'
import { TarFiles } from './tar-files.js'

export function blobPath(digest: string): string {
  const { algorithm, hex } = parseDigest(digest)
  return `blobs/${algorithm}/${hex}`
}

/** An OCI image layout (directory, tar or gzip tar) as a copy's source. */
export class LayoutSource implements Source {
  readonly name: string
  readonly index: LayoutIndex
  readonly #files: LayoutFiles

  private constructor(files: LayoutFiles, index: LayoutIndex) {
    this.name = files.location
    this.#files = files
    this.index = index
  }

  static async open(location: string, opts: { tempDir?: string } = {}): Promise<LayoutSource> {
    let st: Stats
    try {
      st = await stat(location)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new LayoutError(`layout ${location} does not exist`, {
          hint: 'check the layout input; it is resolved against the working directory'
        })
      }
      throw new LayoutError(`layout ${location} cannot be read (${fsReason(err)})`, { cause: err })
    }
    const isDir = st.isDirectory()
    if (!isDir && !st.isFile()) {
      // A FIFO or device would block or never end: refuse it before opening it.
      throw new LayoutError(
        `layout ${location} is ${fileKind(st)}, not a layout directory or tar file`,
        { hint: 'point the layout input at a directory, a .tar or a .tar.gz' }
      )
    }
    const files: LayoutFiles = isDir
      ? await DirFiles.open(location)
      : await TarFiles.open(location, opts)
    try {
      files.check?.()
      const layoutSize = await files.size('oci-layout')
      const indexSize = await files.size('index.json')
      if (indexSize === undefined) {
        throw new LayoutError(`${location} is not an OCI layout: it has no index.json`, {
          hint: isDir
            ? 'point the layout input at a directory written as an OCI image layout'
            : 'build it with `docker buildx build -o type=oci,dest=FILE` (a `docker save` tar without index.json is not an OCI layout)'
        })
      }
      if (layoutSize !== undefined) await checkLayoutFile(files, layoutSize)
      const index = parseIndexJson(await readSmall(files, 'index.json', indexSize), location)
      return new LayoutSource(files, index)
    } catch (err) {
      await files.close()
      throw err
    }
  }

  async close(): Promise<void> {
    await this.#files.close()
  }

  /** Every tag index.json knows, for messages. */
  tags(): string[] {
    return [...new Set(this.index.manifests.flatMap(entryTags))]
  }

  /**
   * Selects an index.json entry: `TAG`, `sha256:…`, or '' for the only image. A digest that is
   * not an index.json entry but is a manifest among the blobs selects that manifest.
   */
  async resolve(reference: string): Promise<Descriptor> {
    const entries = this.index.manifests
    if (reference === '') {
      const digests = new Set(entries.map((d) => d.digest))
      if (digests.size === 1) return entries[0]
      throw new OciError(`${this.name} holds ${digests.size} images; choose one`, {
        hint: `append :TAG or @DIGEST to the layout input; tags here: ${this.#tagList()}`
      })
    }
    if (isDigest(reference)) {
      const entry = entries.find((d) => d.digest === reference)
      if (entry) return entry
      return this.#manifestBlob(reference)
    }
    const entry = entries.find((d) => entryTags(d).includes(reference))
    if (entry) return entry
    throw new NotFoundError(`tag "${reference}" is not in ${this.name}`, {
      hint: `tags here: ${this.#tagList()}`
    })
  }

  #tagList(): string {
    const tags = this.tags()
    return tags.length ? tags.join(', ') : '(none; select by @DIGEST)'
  }

  async #manifestBlob(digest: string): Promise<Descriptor> {
    const size = await this.#files.size(blobPath(digest))
    if (size === undefined) {
      throw new NotFoundError(
        `${digest} is neither an entry of index.json nor a blob of ${this.name}`
      )
    }
    if (size > MAX_MANIFEST_BYTES)
      throw new OciError(`${digest} in ${this.name} is too large to be a manifest`)
    const bytes = await readSmall(this.#files, blobPath(digest), size)
    const parsed = parseManifest(bytes, undefined, `blob ${shortDigest(digest)} of ${this.name}`)
    return { mediaType: parsed.mediaType, digest, size }
  }

  /** A blob file read in place (from its byte range, in a tar), refusing one of the wrong size. */
  async open(desc: Descriptor): Promise<ChunkSource> {
    const name = blobPath(desc.digest)
    if ((await this.#files.size(name)) === undefined) {
      throw new NotFoundError(`blob ${desc.digest} is missing from ${this.name}`)
    }
    const reader = await this.#files.reader(name)
    if (reader.size !== desc.size) {
      await reader.close()
      throw new SizeMismatchError(desc.size, reader.size, `blob ${desc.digest} in ${this.name}`)
    }
    return readerSource(reader)
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return (await this.#files.size(blobPath(desc.digest))) !== undefined
  }

  /** The stored size of a blob, to catch a size mismatch before anything is sent. */
  async size(desc: Descriptor): Promise<number | undefined> {
    return this.#files.size(blobPath(desc.digest))
  }

  #referrers?: Promise<Map<string, Descriptor[]>>

  /**
   * Referrers the layout holds: manifests among index.json's entries whose `subject` is the
   * given one, and members of `sha256-<hex>` fallback indexes (as regclient and cosign write).
   */
  async referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    this.#referrers ??= this.#scanReferrers()
    const all = (await this.#referrers).get(subject.digest) ?? []
    return artifactType ? all.filter((d) => d.artifactType === artifactType) : all
  }

  async #scanReferrers(): Promise<Map<string, Descriptor[]>> {
    const bySubject = new Map<string, Descriptor[]>()
    const read = async (d: Descriptor): Promise<Buffer | undefined> => {
      const size = await this.#files.size(blobPath(d.digest)).catch(() => undefined)
      if (size === undefined || size !== d.size || size > MAX_MANIFEST_BYTES) return undefined
      const bytes = await readSmall(this.#files, blobPath(d.digest), size)
      try {
        verifyBuffer(bytes, d, d.digest)
        return bytes
      } catch {
        return undefined
      }
    }
    const consider = async (d: Descriptor): Promise<void> => {
      if (!isManifestType(d.mediaType)) return
      const bytes = await read(d)
      if (!bytes) return
      let found: ReturnType<typeof referrerDescriptor>
      try {
        found = referrerDescriptor(d, bytes)
      } catch {
        return // not a manifest we can read: not a referrer
      }
      if (!found) return
      const list = bySubject.get(found.subject) ?? []
      if (!list.some((x) => x.digest === found.desc.digest)) list.push(found.desc)
      bySubject.set(found.subject, list)
    }
    for (const entry of this.index.manifests) {
      await consider(entry)
      const name = entry.annotations?.[Annotation.RefName]
      if (name && isFallbackTag(name) && isIndexType(entry.mediaType)) {
        const bytes = await read(entry)
        if (!bytes) continue
        try {
          const parsed = parseManifest(bytes, entry.mediaType, name)
          if (parsed.kind === 'index')
            for (const member of parsed.index.manifests) await consider(member)
        } catch {
          // A broken fallback index lists nothing usable.
        }
      }
    }
    return bySubject
  }
}

async function readSmall(files: LayoutFiles, name: string, size: number): Promise<Buffer> {
  if (size > MAX_MANIFEST_BYTES) {
    throw new LayoutError(
      `${files.location}: ${name} is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`
    )
  }
  return readAll(await files.open(name), MAX_MANIFEST_BYTES, name)
}

async function checkLayoutFile(files: LayoutFiles, size: number): Promise<void> {
  const bytes = await readSmall(files, 'oci-layout', size)
  let json: unknown
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new LayoutError(`${files.location}: oci-layout is not valid JSON`, {
      hint: 'the layout is corrupt; write it again'
    })
  }
  const version =
    typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as { imageLayoutVersion?: unknown }).imageLayoutVersion
      : undefined
  if (typeof version !== 'string' || !version.startsWith('1.')) {
    throw new LayoutError(
      `${files.location}: oci-layout has imageLayoutVersion ${describeValue(version)}; only 1.x is supported`,
      {
        hint: 'only OCI image layout 1.x is supported'
      }
    )
  }
}
