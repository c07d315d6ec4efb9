import { constants, type Stats } from 'node:fs'
import { open, realpath, stat, type FileHandle } from 'node:fs/promises'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import type { BlobReader } from '../content/blob-cursor.js'
import { LayoutError } from '../errors/errors.js'
import { fsReason, guardStream, normaliseName, rangeReader, type LayoutFiles } from './files.js'

/** What a non-regular file is, for messages. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  if (st.isSymbolicLink()) return 'a symbolic link'
  return 'not a regular file'
}

// O_NONBLOCK: should a FIFO be swapped in between the check and the open, the open does not wait
// for a writer (and the fstat after it refuses the FIFO). Both are 0 where the platform lacks them.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0)

/**
 * A layout directory on disk. Symlinks are followed only while they stay inside the layout, and
 * only regular files are read: a directory, device, FIFO or socket where a file should be is an
 * error, never a read that could block.
 */
export class DirFiles implements LayoutFiles {
  readonly location: string
  readonly #root: string

  private constructor(location: string, root: string) {
    this.location = location
    this.#root = root
  }

  static async open(location: string): Promise<DirFiles> {
    try {
      return new DirFiles(location, await realpath(location))
    } catch (err) {
      throw new LayoutError(`layout ${location} cannot be read (${fsReason(err)})`, { cause: err })
    }
  }

  /** The real path of a layout file, or undefined when there is none. */
  async #resolve(name: string): Promise<{ rel: string; real: string } | undefined> {
    const rel = normaliseName(name)
    if (rel === undefined || rel === '') return undefined
    let real: string
    try {
      real = await realpath(path.join(this.#root, rel))
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
      if (code === 'ELOOP') {
        throw new LayoutError(`${this.location}: ${rel} is a symbolic link loop`, {
          hint: 'a layout may only link to files inside itself'
        })
      }
      throw new LayoutError(`${this.location}: ${rel} cannot be read (${fsReason(err)})`, {
        cause: err
      })
    }
    if (real !== this.#root && !real.startsWith(this.#root + path.sep)) {
      throw new LayoutError(`${this.location}: ${rel} links outside the layout`, {
        hint: 'a layout may only link to files inside itself'
      })
    }
    return { rel, real }
  }

  #notRegular(rel: string, st: Stats): LayoutError {
    return new LayoutError(`${this.location}: ${rel} is ${fileKind(st)}, not a regular file`, {
      hint: 'a layout holds only regular files'
    })
  }

  async #stat(name: string): Promise<{ rel: string; real: string; size: number } | undefined> {
    const file = await this.#resolve(name)
    if (!file) return undefined
    let st: Stats
    try {
      st = await stat(file.real)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
      throw new LayoutError(`${this.location}: ${file.rel} cannot be read (${fsReason(err)})`, {
        cause: err
      })
    }
    if (!st.isFile()) throw this.#notRegular(file.rel, st)
    return { ...file, size: st.size }
  }

  async size(name: string): Promise<number | undefined> {
    return (await this.#stat(name))?.size
  }

  /** Opens a regular file of the layout, refusing anything else even if swapped in after the check. */
  async #openFile(name: string): Promise<{ fh: FileHandle; rel: string; size: number }> {
    const file = await this.#stat(name)
    if (!file) throw new LayoutError(`${this.location}: ${name} is missing`)
    let fh: FileHandle
    try {
      fh = await open(file.real, OPEN_FLAGS)
    } catch (err) {
      throw new LayoutError(`${this.location}: ${file.rel} cannot be opened (${fsReason(err)})`, {
        cause: err
      })
    }
    try {
      const st = await fh.stat()
      if (!st.isFile()) throw this.#notRegular(file.rel, st)
      return { fh, rel: file.rel, size: st.size }
    } catch (err) {
      await fh.close()
      if (err instanceof LayoutError) throw err
      throw new LayoutError(`${this.location}: ${file.rel} cannot be read (${fsReason(err)})`, {
        cause: err
      })
    }
  }

  async open(name: string): Promise<Readable> {
    const { fh, rel } = await this.#openFile(name)
    return guardStream(fh.createReadStream({ highWaterMark: 1 << 20 }), `${this.location}: ${rel}`)
  }

  async reader(name: string): Promise<BlobReader> {
    const { fh, rel, size } = await this.#openFile(name)
    return rangeReader(fh, 0, size, `${this.location}: ${rel}`)
  }

  async close(): Promise<void> {}
}
