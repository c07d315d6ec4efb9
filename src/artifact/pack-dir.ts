// A directory as one layer, as oras packs it: a gzip tar whose entries sit under the title.
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { readdir } from 'node:fs/promises'
import * as path from 'node:path'
import { Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import { create } from 'tar'
import { InputError } from '../errors/errors.js'

export interface PackedDir {
  /** The gzip tar's digest and size: the layer. */
  digest: string
  size: number
  /** The uncompressed tar's digest (`io.deis.oras.content.digest`). */
  tarDigest: string
}

/** Passes bytes on, hashing and counting them. */
class Tally extends Transform {
  readonly hash = createHash('sha256')
  size = 0
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk)
    this.size += chunk.length
    done(null, chunk)
  }
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** Every entry under `title` (itself first), sorted, directories ending in `/`. */
async function entryNames(cwd: string, title: string): Promise<string[]> {
  const names = [`${title}/`]
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(cwd, rel), { withFileTypes: true })
    for (const e of entries.sort((a, b) => byName(a.name, b.name))) {
      const name = `${rel}/${e.name}`
      if (e.isDirectory()) {
        names.push(`${name}/`)
        await walk(name)
      } else if (e.isFile() || e.isSymbolicLink()) names.push(name)
      else
        throw new InputError(`${name} is neither a file, a directory nor a symlink`, {
          hint: 'a directory pushed as a layer may hold only those: move the others out'
        })
    }
  }
  await walk(title)
  return names
}

/**
 * Packs the directory `title` (relative to `cwd`) into `file`. The same tree gives the same
 * bytes: entries sorted, times zero, no owners, modes 0755/0644, gzip without a timestamp.
 */
export async function packDir(cwd: string, title: string, file: string): Promise<PackedDir> {
  const names = await entryNames(cwd, title)
  const tar = new Tally()
  const gz = new Tally()
  const pack = create(
    {
      cwd,
      portable: true,
      mtime: new Date(0),
      noDirRecurse: true,
      // Only the executable bit says anything across machines; umasks differ.
      onWriteEntry: (entry) => {
        const stat = entry.stat
        if (!stat || entry.type === 'SymbolicLink') return
        const mode = entry.type === 'Directory' || stat.mode & 0o111 ? 0o755 : 0o644
        stat.mode = (stat.mode & ~0o7777) | mode
      }
    },
    names
  )
  // Node's gzip header carries no name and a zero mtime, so it adds nothing that varies.
  await pipeline(pack, tar, createGzip({ level: 6 }), gz, createWriteStream(file))
  return {
    digest: `sha256:${gz.hash.digest('hex')}`,
    size: gz.size,
    tarDigest: `sha256:${tar.hash.digest('hex')}`
  }
}
