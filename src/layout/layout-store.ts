import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { LayoutError } from '../content/errors.js'
import type { Content, PushOutcome, Target } from '../content/target.js'
import { VerifyingStream } from '../oci/digest.js'
import { Annotation, MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'
import { fsReason, writeContentAt } from './files.js'
import { indexEntry, parseIndexJson, referrerEntry, type LayoutIndex } from './index-file.js'
import { blobPath, LayoutSource } from './layout-source.js'

const LOCK_WAIT_MS = 60_000

/**
 * A writable OCI layout directory. Blobs are written under temporary names and renamed into
 * place, and index.json is replaced last by rename under a lock, so an interrupted or
 * concurrent write never leaves a layout that looks complete but is not.
 */
export class LayoutStore implements Target {
  readonly name: string
  readonly #dir: string
  #reader?: LayoutSource

  private constructor(dir: string) {
    this.#dir = dir
    this.name = dir
  }

  static async open(dir: string): Promise<LayoutStore> {
    try {
      const st = await stat(dir)
      if (!st.isDirectory())
        throw new LayoutError(`${dir} exists and is not a directory`, {
          hint: 'name a new or existing layout directory, or a path ending in .tar'
        })
    } catch (err) {
      if (err instanceof LayoutError) throw err
    }
    try {
      await mkdir(path.join(dir, 'blobs'), { recursive: true })
    } catch (err) {
      throw new LayoutError(`cannot create the layout directory ${dir} (${fsReason(err)})`, {
        cause: err
      })
    }
    return new LayoutStore(dir)
  }

  get directory(): string {
    return this.#dir
  }

  async #source(): Promise<LayoutSource> {
    this.#reader ??= await LayoutSource.open(this.#dir)
    return this.#reader
  }

  async resolve(reference: string): Promise<Descriptor> {
    return (await this.#source()).resolve(reference)
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    return createReadStream(path.join(this.#dir, blobPath(desc.digest)))
  }

  /** Present means present with the right size and bytes: a blob left damaged is fetched again. */
  async exists(desc: Descriptor): Promise<boolean> {
    const file = path.join(this.#dir, blobPath(desc.digest))
    try {
      if ((await stat(file)).size !== desc.size) return false
      await pipeline(
        createReadStream(file),
        new VerifyingStream(desc, file),
        async (source: AsyncIterable<Buffer>) => {
          for await (const _ of source);
        }
      )
      return true
    } catch {
      return false
    }
  }

  async push(desc: Descriptor, content: Content): Promise<PushOutcome> {
    const final = path.join(this.#dir, blobPath(desc.digest))
    await mkdir(path.dirname(final), { recursive: true })
    const temp = `${final}.${randomBytes(6).toString('hex')}.partial`
    try {
      const fh = await open(temp, 'w').catch((err: unknown) => {
        throw new LayoutError(`cannot create ${temp} (${fsReason(err)})`, {
          cause: err,
          hint: 'check that the destination directory is writable'
        })
      })
      try {
        await writeContentAt(fh, content, 0, temp, { inOrder: true })
      } finally {
        await fh.close()
      }
      await rename(temp, final)
    } catch (err) {
      await rm(temp, { force: true })
      throw err
    }
    return 'uploaded'
  }

  /** Records `desc` in index.json under a bare tag (ref.name). */
  async tag(desc: Descriptor, tag: string): Promise<void> {
    await this.addEntry(desc, { [Annotation.RefName]: tag })
  }

  /**
   * Adds an index.json entry, replacing any entry with the same ref.name (or, for an entry
   * without one, the same digest and no name). Read-modify-write under a lock file, so two
   * pulls into one directory both land.
   */
  async addEntry(desc: Descriptor, annotations: Record<string, string>): Promise<void> {
    const entry = indexEntry(desc, annotations)
    await this.addEntries([entry, ...this.#pendingReferrers])
    this.#pendingReferrers = []
  }

  /** Referrers are kept as untagged entries, written with the next entry (index.json changes once). */
  async addReferrers(_subject: Descriptor, referrers: Descriptor[]): Promise<void> {
    for (const r of referrers) {
      if (this.#pendingReferrers.some((p) => p.digest === r.digest)) continue
      this.#pendingReferrers.push(referrerEntry(r))
    }
  }

  #pendingReferrers: Descriptor[] = []

  /**
   * Adds index.json entries: one with a ref.name replaces the entry of that name; one without
   * replaces an unnamed entry of the same digest. Read-modify-write under a lock file.
   */
  async addEntries(entries: Descriptor[]): Promise<void> {
    await this.#withLock(async () => {
      const index = await this.#readIndex()
      for (const entry of entries) {
        const name = entry.annotations?.[Annotation.RefName]
        index.manifests = index.manifests.filter((m) => {
          const other = m.annotations?.[Annotation.RefName]
          return name !== undefined
            ? other !== name
            : !(other === undefined && m.digest === entry.digest)
        })
        index.manifests.push(entry)
      }
      const layoutFile = path.join(this.#dir, 'oci-layout')
      await writeFile(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }))
      const temp = path.join(this.#dir, `index.json.${randomBytes(6).toString('hex')}.partial`)
      await writeFile(temp, JSON.stringify(index))
      await rename(temp, path.join(this.#dir, 'index.json'))
    })
    this.#reader = undefined
  }

  async #readIndex(): Promise<LayoutIndex> {
    let bytes: Buffer
    try {
      bytes = await readFile(path.join(this.#dir, 'index.json'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }
      throw new LayoutError(`${this.#dir}: index.json cannot be read (${fsReason(err)})`, {
        cause: err
      })
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(bytes.toString('utf8'))
    } catch (err) {
      throw new LayoutError(
        `${this.#dir}: index.json is not valid JSON (${(err as Error).message})`,
        { hint: 'repair or remove it, or pull into another directory' }
      )
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return parseIndexJson(bytes, this.#dir) // throws the LayoutError that names the problem
    const json = parsed as Partial<LayoutIndex>
    if (!Array.isArray(json.manifests) || json.manifests.length === 0) {
      return {
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        ...json,
        manifests: []
      } as LayoutIndex
    }
    return parseIndexJson(bytes, this.#dir)
  }

  async #withLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = path.join(this.#dir, 'index.json.lock')
    const deadline = Date.now() + LOCK_WAIT_MS
    for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
      try {
        const fh = await open(lock, 'wx')
        await fh.close()
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        if (Date.now() > deadline) {
          throw new LayoutError(`${this.#dir}: index.json is locked by ${lock}`, {
            hint: 'another pull is writing this layout; if none is, delete the lock file'
          })
        }
        await new Promise((r) => setTimeout(r, wait))
      }
    }
    try {
      return await fn()
    } finally {
      await rm(lock, { force: true })
    }
  }
}
