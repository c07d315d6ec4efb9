import { mkdir, rename, rm, stat } from 'node:fs/promises'
import * as path from 'node:path'
import type { Content, PushOutcome, Sink } from '../content/sink.js'
import { LayoutError } from '../errors/errors.js'
import type { Descriptor } from '../oci/types.js'
import { fsReason } from './files.js'
import { partialName, removeLeftovers } from './leftovers.js'
import { LayoutStore, type ReplacedTag } from './layout-store.js'
import { packLayout } from './tar-export.js'
import { TarStore } from './tar-store.js'

type Kind = { kind: 'dir' } | { kind: 'tar'; gzip: boolean }

function kindOf(file: string): Kind {
  const lower = file.toLowerCase()
  if (lower.endsWith('.tar')) return { kind: 'tar', gzip: false }
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return { kind: 'tar', gzip: true }
  return { kind: 'dir' }
}

/**
 * Checks where a pull will write before anything is fetched: a tar's parent directories are
 * created (as a directory pull creates its directory), a directory in a tar's place is refused,
 * and what killed runs left beside it is removed.
 */
export async function checkLayoutDestination(location: string): Promise<void> {
  if (kindOf(location).kind !== 'tar') return
  const parent = path.dirname(path.resolve(location))
  try {
    await mkdir(parent, { recursive: true })
  } catch (err) {
    throw new LayoutError(`cannot create ${parent} for ${location} (${fsReason(err)})`, {
      hint: 'check the layout input: its directory must be creatable and writable'
    })
  }
  const st = await stat(location).catch(() => undefined)
  if (st?.isDirectory())
    throw new LayoutError(`${location} is a directory, not a tar file`, {
      hint: 'name a file ending in .tar, or a directory path without the .tar suffix'
    })
  await removeLeftovers(parent, `${path.basename(location)}.`)
}

/**
 * The layout a pull writes: a directory (merged into), a tar written in place, or a gzip tar
 * packed from a directory built beside it. A tar appears at its path only on `commit`; `close`
 * removes whatever a pull that stopped short left beside it.
 */
export class LayoutSink implements Sink {
  readonly name: string
  readonly #location: string
  readonly #store: LayoutStore | TarStore
  /** A tar's temporary file (renamed into place on commit), and its directory for a gzip tar. */
  readonly #scratch?: string
  readonly #gzip: boolean

  private constructor(
    location: string,
    store: LayoutStore | TarStore,
    tar?: { scratch: string; gzip: boolean }
  ) {
    this.name = store.name
    this.#location = location
    this.#store = store
    this.#scratch = tar?.scratch
    this.#gzip = tar?.gzip ?? false
  }

  /**
   * Opens the destination of `root` (checked first by checkLayoutDestination): a plain tar is
   * written in place when every name fits a ustar header (sha256 content), else through a directory.
   */
  static async open(location: string, root: Descriptor): Promise<LayoutSink> {
    const kind = kindOf(location)
    if (kind.kind === 'dir') return new LayoutSink(location, await LayoutStore.open(location))
    const scratch = partialName(location)
    const direct = !kind.gzip && root.digest.startsWith('sha256:')
    try {
      const store = direct
        ? await TarStore.create(scratch, location)
        : await LayoutStore.open(`${scratch}.d`)
      return new LayoutSink(location, store, { scratch, gzip: kind.gzip })
    } catch (err) {
      await removeScratch(scratch)
      throw err
    }
  }

  exists(desc: Descriptor): Promise<boolean> {
    return this.#store.exists(desc)
  }

  push(desc: Descriptor, content: Content): Promise<PushOutcome> {
    return this.#store.push(desc, content)
  }

  tag(desc: Descriptor, tag: string): Promise<void> {
    return this.#store.tag(desc, tag)
  }

  async prepare(descs: Descriptor[]): Promise<void> {
    if (this.#store instanceof TarStore) await this.#store.prepare(descs)
  }

  addReferrers(subject: Descriptor, referrers: Descriptor[]): Promise<void> {
    return this.#store.addReferrers(subject, referrers)
  }

  /**
   * Records the pulled root in index.json with its annotations (with the referrers carried), and
   * makes the layout whole at its path: a tar is finished, or packed, and renamed into place.
   * Returns the tags of index.json that now name another digest.
   */
  async commit(root: Descriptor, annotations: Record<string, string>): Promise<ReplacedTag[]> {
    const replaced = await this.#store.addEntry(root, annotations)
    const scratch = this.#scratch
    if (scratch === undefined) return replaced
    if (this.#store instanceof TarStore) await this.#store.finish()
    else await packLayout(this.#store.directory, scratch, this.#gzip)
    await rename(scratch, this.#location)
    return replaced
  }

  async close(): Promise<void> {
    if (this.#store instanceof TarStore) await this.#store.close()
    if (this.#scratch !== undefined) await removeScratch(this.#scratch)
  }
}

/** A tar's temporary file and the directory a gzip tar is built in, whichever exist. */
async function removeScratch(scratch: string): Promise<void> {
  await Promise.all([
    rm(scratch, { force: true }),
    rm(`${scratch}.d`, { recursive: true, force: true })
  ])
}
