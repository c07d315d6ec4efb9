import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { LayoutError } from '../errors/errors.js'
import type { Content, PushOutcome, Sink } from '../content/sink.js'
import { VerifyingStream } from '../oci/digest.js'
import { Annotation, MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'
import { fsReason, writeContentAt } from './files.js'
import { partialName, removeLeftovers } from './leftovers.js'
import { indexEntry, parseIndexJson, referrerEntry, type LayoutIndex } from './index-file.js'
import { blobPath } from './layout-source.js'

const LOCK_WAIT_MS = 60_000

/** A tag of index.json that now names another digest. */
export interface ReplacedTag {
  tag: string
  was: string
}

/**
 * A writable OCI layout directory. Blobs are written under temporary names and renamed into
 * place, and index.json is replaced last by rename under a lock, so an interrupted or
 * concurrent write never leaves a layout that looks complete but is not.
 */
export class LayoutStore implements Sink {
  readonly name: string
  readonly #dir: string

  private constructor(dir: string) {
    this.#dir = dir
    this.name = dir
  }

  static async open(dir: string): Promise<LayoutStore> {
    await refuseForeignDirectory(dir)
    try {
      await mkdir(path.join(dir, 'blobs'), { recursive: true })
    } catch (err) {
      throw new LayoutError(`cannot create the layout directory ${dir} (${fsReason(err)})`, {
        cause: err
      })
    }
    await removeLeftovers(dir)
    const algorithms = await readdir(path.join(dir, 'blobs')).catch(() => [] as string[])
    for (const alg of algorithms) await removeLeftovers(path.join(dir, 'blobs', alg))
    return new LayoutStore(dir)
  }

  get directory(): string {
    return this.#dir
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
    const temp = partialName(final)
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
  async addEntry(desc: Descriptor, annotations: Record<string, string>): Promise<ReplacedTag[]> {
    const entry = indexEntry(desc, annotations)
    const replaced = await this.addEntries([entry, ...this.#pendingReferrers])
    this.#pendingReferrers = []
    return replaced
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
  async addEntries(entries: Descriptor[]): Promise<ReplacedTag[]> {
    const replaced: ReplacedTag[] = []
    await this.#withLock(async () => {
      const index = await this.#readIndex()
      for (const entry of entries) {
        const name = entry.annotations?.[Annotation.RefName]
        index.manifests = index.manifests.filter((m) => {
          const other = m.annotations?.[Annotation.RefName]
          if (name !== undefined && other === name && m.digest !== entry.digest)
            replaced.push({ tag: name, was: m.digest })
          return name !== undefined
            ? other !== name
            : !(other === undefined && m.digest === entry.digest)
        })
        index.manifests.push(entry)
      }
      const layoutFile = path.join(this.#dir, 'oci-layout')
      await writeFile(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }))
      const temp = partialName(path.join(this.#dir, 'index.json'))
      await writeFile(temp, JSON.stringify(index))
      await rename(temp, path.join(this.#dir, 'index.json'))
    })
    return replaced
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
      }
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

/** What a layout directory holds before its first pull completes: nothing else may be there. */
const LAYOUT_NAMES = new Set(['blobs', 'index.json', 'index.json.lock', 'oci-layout'])

/**
 * A pull writes into a new or empty directory, or into an OCI layout; never into a directory
 * holding other things (`layout: .` must not turn a checkout into a layout).
 */
async function refuseForeignDirectory(dir: string): Promise<void> {
  let st
  try {
    st = await stat(dir)
  } catch {
    return // not there yet: it is created
  }
  if (!st.isDirectory())
    throw new LayoutError(`${dir} exists and is not a directory`, {
      hint: 'name a new or existing layout directory, or a path ending in .tar'
    })
  const names = await readdir(dir)
  if (names.includes('oci-layout')) return
  const foreign = names.filter((n) => !LAYOUT_NAMES.has(n) && !/\.partial$/.test(n))
  if (foreign.length === 0) return
  const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', …' : '')
  throw new LayoutError(
    `${dir} is a directory that is not an OCI layout (it holds ${shown}); nothing was written to it`,
    {
      hint: 'pull into a new or empty directory, or into an existing layout (it has an oci-layout file)'
    }
  )
}
