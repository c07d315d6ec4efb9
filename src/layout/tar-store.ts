import { open, type FileHandle } from 'node:fs/promises'
import { Header } from 'tar'
import { LayoutError, OciError, SizeMismatchError } from '../errors/errors.js'
import type { Content, PushOutcome, Sink } from '../content/sink.js'
import { parseDigest } from '../oci/digest.js'
import { Annotation, MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'
import { writeContentAt } from './files.js'
import { indexEntry, referrerEntry } from './index-file.js'

const BLOCK = 512

function header(path: string, size: number, type: 'File' | 'Directory'): Buffer {
  const block = Buffer.alloc(BLOCK)
  const h = new Header({
    path,
    size,
    type,
    mode: type === 'File' ? 0o444 : 0o755,
    mtime: new Date(0),
    uid: 0,
    gid: 0,
    uname: '',
    gname: ''
  })
  if (h.encode(block, 0)) throw new OciError(`tar member name too long: ${path}`)
  return block
}

const padded = (n: number): number => Math.ceil(n / BLOCK) * BLOCK

/**
 * Writes a layout tar directly, without a directory first: each blob's place in the file is
 * fixed as soon as the graph is known, so parallel downloads write straight into their byte
 * ranges. index.json and oci-layout go last. Holds sha256 content only (longer names would need
 * PAX headers); the caller picks another way for others. The file is a temporary one the caller
 * renames when complete.
 */
export class TarStore implements Sink {
  readonly name: string
  readonly #fh: FileHandle
  readonly #regions = new Map<string, number>()
  readonly #entries: Descriptor[] = []
  #end = 0

  private constructor(name: string, fh: FileHandle) {
    this.name = name
    this.#fh = fh
  }

  static async create(file: string, name: string): Promise<TarStore> {
    const store = new TarStore(name, await open(file, 'w'))
    await store.#append(
      Buffer.concat([header('blobs/', 0, 'Directory'), header('blobs/sha256/', 0, 'Directory')])
    )
    return store
  }

  /** Claims the next `bytes.length` bytes before awaiting, so concurrent callers never overlap. */
  async #append(bytes: Buffer): Promise<void> {
    const at = this.#end
    this.#end += bytes.length
    await this.#fh.write(bytes, 0, bytes.length, at)
  }

  /** Reserves a member for each blob not yet placed: header now, bytes when they arrive. */
  async prepare(descs: Descriptor[]): Promise<void> {
    const fresh = [
      ...new Map(
        descs.filter((d) => !this.#regions.has(d.digest)).map((d) => [d.digest, d])
      ).values()
    ]
    fresh.sort((a, b) => (a.digest < b.digest ? -1 : 1))
    const writes: Promise<void>[] = []
    for (const d of fresh) {
      const { algorithm, hex } = parseDigest(d.digest)
      if (algorithm !== 'sha256') {
        throw new LayoutError(
          `${d.digest}: only sha256 content can be written into a tar directly`,
          {
            hint: 'pull into a directory or a .tar.gz instead'
          }
        )
      }
      writes.push(this.#append(header(`blobs/sha256/${hex}`, d.size, 'File')))
      this.#regions.set(d.digest, this.#end)
      this.#end += padded(d.size)
    }
    await Promise.all(writes)
  }

  /** A new tar holds nothing until it is written. */
  async exists(): Promise<boolean> {
    return false
  }

  async push(desc: Descriptor, content: Content): Promise<PushOutcome> {
    if (!this.#regions.has(desc.digest)) await this.prepare([desc])
    const start = this.#regions.get(desc.digest) as number
    const pos =
      start + (await writeContentAt(this.#fh, content, start, `${this.name}: blob ${desc.digest}`))
    if (pos - start !== desc.size)
      throw new SizeMismatchError(desc.size, pos - start, `blob ${desc.digest}`)
    return 'uploaded'
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    await this.addEntry(desc, { [Annotation.RefName]: tag })
  }

  async addReferrers(_subject: Descriptor, referrers: Descriptor[]): Promise<void> {
    for (const r of referrers) {
      if (this.#entries.some((e) => e.digest === r.digest && !e.annotations)) continue
      this.#entries.push(referrerEntry(r))
    }
  }

  /** A new tar replaces none of its own tags (the file as a whole is replaced). */
  async addEntry(desc: Descriptor, annotations: Record<string, string>): Promise<[]> {
    const entry = indexEntry(desc, annotations)
    this.#entries.unshift(entry)
    return []
  }

  /** Writes index.json, oci-layout and the end-of-archive blocks, then closes the file. */
  async finish(): Promise<void> {
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: this.#entries })
    )
    const layout = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }))
    const tail: Buffer[] = []
    for (const [name, bytes] of [
      ['index.json', index],
      ['oci-layout', layout]
    ] as const) {
      tail.push(
        header(name, bytes.length, 'File'),
        bytes,
        Buffer.alloc(padded(bytes.length) - bytes.length)
      )
    }
    tail.push(Buffer.alloc(2 * BLOCK))
    await this.#append(Buffer.concat(tail))
    await this.#fh.truncate(this.#end)
    await this.close()
  }

  async close(): Promise<void> {
    await this.#fh.close().catch(() => undefined)
  }
}
