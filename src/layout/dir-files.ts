import { createReadStream } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { LayoutError } from '../content/errors.js'
import { normaliseName, type LayoutFiles } from './files.js'

/** A layout directory on disk. Symlinks are followed only while they stay inside the layout. */
export class DirFiles implements LayoutFiles {
  readonly location: string
  readonly #root: string

  private constructor(location: string, root: string) {
    this.location = location
    this.#root = root
  }

  static async open(location: string): Promise<DirFiles> {
    return new DirFiles(location, await realpath(location))
  }

  async #resolve(name: string): Promise<string | undefined> {
    const rel = normaliseName(name)
    if (rel === undefined) return undefined
    let real: string
    try {
      real = await realpath(path.join(this.#root, rel))
    } catch {
      return undefined
    }
    if (real !== this.#root && !real.startsWith(this.#root + path.sep)) {
      throw new LayoutError(`${this.location}: ${rel} links outside the layout`, {
        hint: 'a layout may only link to files inside itself'
      })
    }
    return real
  }

  async size(name: string): Promise<number | undefined> {
    const file = await this.#resolve(name)
    if (!file) return undefined
    const st = await stat(file)
    return st.isFile() ? st.size : undefined
  }

  async open(name: string): Promise<Readable> {
    const file = await this.#resolve(name)
    if (!file) throw new LayoutError(`${this.location}: ${name} is missing`)
    return createReadStream(file, { highWaterMark: 1 << 20 })
  }

  async close(): Promise<void> {}
}
