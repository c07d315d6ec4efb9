// Local files as a Source: the artifact `oras push` would make of them, served to copyGraph.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, mkdtemp, open, rm, stat } from 'node:fs/promises'
import * as os from 'node:os'
import * as path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { bufferSource, readerSource, type ChunkSource } from '../content/blob-cursor.js'
import type { Source } from '../content/source.js'
import { InputError, NotFoundError } from '../errors/errors.js'
import { fsReason, rangeReader } from '../layout/files.js'
import { digestOf } from '../oci/digest.js'
import { Annotation, MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'
import type { FileSpec } from './file-specs.js'
import { packDir } from './pack-dir.js'

/** The names and defaults oras writes (see oras-go's file store and `oras push`). */
export const Oras = {
  DefaultArtifactType: 'application/vnd.unknown.artifact.v1',
  FileLayer: 'application/vnd.oci.image.layer.v1.tar',
  DirLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  EmptyConfig: 'application/vnd.oci.empty.v1+json'
} as const

const EMPTY = Buffer.from('{}')

export interface ArtifactOptions {
  /** Default `application/vnd.unknown.artifact.v1`. */
  artifactType?: string
  /** The manifest's annotations. */
  annotations?: Record<string, string>
  /** Makes the artifact a referrer of this manifest. */
  subject?: Descriptor
  /** What the paths are relative to; default the working directory. */
  cwd?: string
  /** Where directories are packed (a fresh folder inside it, removed by close); default os.tmpdir(). */
  tempDir?: string
}

/** A layer and the file its bytes are read from. */
interface Layer {
  desc: Descriptor
  file: string
}

async function hashFile(file: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  await pipeline(createReadStream(file), async (chunks: AsyncIterable<Buffer>) => {
    for await (const c of chunks) {
      hash.update(c)
      size += c.length
    }
  })
  return { digest: `sha256:${hash.digest('hex')}`, size }
}

/**
 * The artifact of some files: an OCI 1.1 image manifest with `artifactType`, the empty config,
 * one layer per file (a directory packed as one gzip tar). Everything is hashed before anything
 * is sent, so a missing file fails the push before the registry is asked anything.
 */
export class FilesSource implements Source {
  readonly name = 'local files'
  readonly mismatchHint = 'a file changed while it was being pushed; push again once it is still'
  readonly root: Descriptor
  readonly layers: Descriptor[]
  readonly artifactType: string
  readonly #manifest: Buffer
  readonly #files = new Map<string, string>()
  readonly #tempDir?: string

  private constructor(
    root: Descriptor,
    manifest: Buffer,
    artifactType: string,
    layers: Layer[],
    tempDir?: string
  ) {
    this.root = root
    this.artifactType = artifactType
    this.#manifest = manifest
    this.layers = layers.map((l) => l.desc)
    for (const l of layers) this.#files.set(l.desc.digest, l.file)
    this.#tempDir = tempDir
  }

  static async prepare(specs: FileSpec[], opts: ArtifactOptions = {}): Promise<FilesSource> {
    let tempDir: string | undefined
    try {
      const layers: Layer[] = []
      const cwd = path.resolve(opts.cwd ?? '.')
      for (const spec of specs) {
        const where = path.join(cwd, spec.path)
        const kind = await statKind(where, spec.path)
        if (kind === 'dir') {
          tempDir ??= await mkdtemp(path.join(opts.tempDir ?? os.tmpdir(), 'oci-layout-files-'))
          const file = path.join(tempDir, `${layers.length}.tgz`)
          const packed = await packDir(cwd, spec.title, file)
          // In key order, as oras (Go, which sorts map keys) writes them.
          const annotations = {
            [Annotation.TarDigest]: packed.tarDigest,
            [Annotation.Unpack]: 'true',
            [Annotation.Title]: spec.title
          }
          const mediaType = spec.mediaType ?? Oras.DirLayer
          const desc = { mediaType, digest: packed.digest, size: packed.size, annotations }
          layers.push({ desc, file })
        } else {
          const { digest, size } = await hashFile(where)
          const annotations = { [Annotation.Title]: spec.title }
          const mediaType = spec.mediaType ?? Oras.FileLayer
          layers.push({ desc: { mediaType, digest, size, annotations }, file: where })
        }
      }
      const artifactType = opts.artifactType ?? Oras.DefaultArtifactType
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          artifactType,
          config: { mediaType: Oras.EmptyConfig, digest: digestOf(EMPTY), size: EMPTY.length },
          layers: layers.map((l) => l.desc),
          ...(opts.subject ? { subject: opts.subject } : {}),
          ...(opts.annotations && Object.keys(opts.annotations).length
            ? { annotations: sortedKeys(opts.annotations) }
            : {})
        })
      )
      const root = {
        mediaType: MediaType.OciManifest,
        digest: digestOf(manifest),
        size: manifest.length
      }
      return new FilesSource(root, manifest, artifactType, layers, tempDir)
    } catch (err) {
      if (tempDir) await rm(tempDir, { recursive: true, force: true })
      throw err
    }
  }

  /** The manifest's bytes, as pushed. */
  manifestBytes(): Buffer {
    return this.#manifest
  }

  async resolve(reference: string): Promise<Descriptor> {
    if (reference === '' || reference === this.root.digest) return this.root
    throw new NotFoundError(`the artifact of local files has no reference ${reference}`)
  }

  async open(desc: Descriptor): Promise<ChunkSource> {
    if (desc.digest === this.root.digest) return bufferSource(this.#manifest)
    if (desc.digest === digestOf(EMPTY)) return bufferSource(EMPTY)
    const file = this.#files.get(desc.digest)
    if (!file) throw new NotFoundError(`the artifact of local files holds no ${desc.digest}`)
    let fh
    try {
      fh = await open(file, 'r')
    } catch (err) {
      throw new InputError(`file ${file} cannot be read (${fsReason(err)})`, { cause: err })
    }
    return readerSource(rangeReader(fh, 0, desc.size, `file ${file}`))
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return (await this.size(desc)) !== undefined
  }

  async size(desc: Descriptor): Promise<number | undefined> {
    if (desc.digest === this.root.digest) return this.root.size
    if (desc.digest === digestOf(EMPTY)) return EMPTY.length
    return this.layers.find((l) => l.digest === desc.digest)?.size
  }

  /** Removes the packed directories. */
  async close(): Promise<void> {
    if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true })
  }
}

/** A file or a directory; anything else (missing, a device) is the user's to fix. */
async function statKind(where: string, file: string): Promise<'file' | 'dir'> {
  let st
  try {
    st = await stat(where)
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
    const link = missing && (await lstat(where).catch(() => undefined))?.isSymbolicLink()
    throw new InputError(
      missing
        ? `file ${file} does not exist${link ? ' (a symlink to nothing)' : ''}`
        : `file ${file} cannot be read (${fsReason(err)})`,
      { hint: 'check the path: it is read from the working directory', cause: err }
    )
  }
  if (st.isDirectory()) return 'dir'
  if (st.isFile()) return 'file'
  throw new InputError(`${file} is neither a file nor a directory`, {
    hint: 'push regular files or directories'
  })
}

/** The same annotations in key order, so the order given does not change the digest. */
function sortedKeys(annotations: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => (a < b ? -1 : 1)))
}
