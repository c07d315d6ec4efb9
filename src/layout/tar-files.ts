import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { Header, Pax, type HeaderData } from 'tar'
import type { BlobReader } from '../content/blob-cursor.js'
import { LayoutError } from '../errors/errors.js'
import { fsReason, guardStream, normaliseName, rangeReader, type LayoutFiles } from './files.js'

const BLOCK = 512
/** A PAX or GNU long-name header longer than this is not a real one. */
const MAX_EXTENDED_HEADER = 1 << 20
/** How many links a name may pass through before it counts as a loop. */
const MAX_LINK_HOPS = 16

type TarEntry =
  | { kind: 'file'; offset: number; size: number }
  | { kind: 'link'; target: string }
  | { kind: 'other'; type: string }

/** Reads the first bytes of a file to tell a gzip stream from anything else. */
export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r')
  try {
    const buf = Buffer.alloc(2)
    const { bytesRead } = await fh.read(buf, 0, 2, 0)
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b
  } finally {
    await fh.close()
  }
}

/**
 * An OCI layout inside a tar, read in place: one pass over the headers records where each
 * member's bytes start (node-tar parses the headers: ustar, PAX and GNU long names), then each
 * blob is streamed from its byte range. Nothing is extracted. A gzip-compressed tar is first
 * decompressed once to a temporary file, since gzip cannot be read at an offset.
 */
export class TarFiles implements LayoutFiles {
  readonly location: string
  readonly #file: string
  readonly #entries: Map<string, TarEntry>
  readonly #tempDir?: string
  /**
   * One handle for every member read: opening and closing the file per blob cost about 1 ms of
   * the main thread each, which dominated a push of many small blobs. Positional reads share it.
   */
  #handle?: Promise<FileHandle>

  private constructor(
    location: string,
    file: string,
    entries: Map<string, TarEntry>,
    tempDir?: string
  ) {
    this.location = location
    this.#file = file
    this.#entries = entries
    this.#tempDir = tempDir
  }

  static async open(location: string, opts: { tempDir?: string } = {}): Promise<TarFiles> {
    let gzip: boolean
    try {
      gzip = await isGzipFile(location)
    } catch (err) {
      throw new LayoutError(`layout ${location} cannot be read (${fsReason(err)})`, { cause: err })
    }
    if (gzip) {
      const base = opts.tempDir ?? tmpdir()
      let dir: string
      try {
        dir = await mkdtemp(path.join(base, 'oci-layout-'))
      } catch (err) {
        throw new LayoutError(
          `cannot create a directory in ${base} to decompress ${location} (${fsReason(err)})`,
          {
            cause: err,
            hint: 'check that the temporary directory (RUNNER_TEMP) exists and is writable'
          }
        )
      }
      const plain = path.join(dir, 'layout.tar')
      try {
        try {
          await pipeline(createReadStream(location), createGunzip(), createWriteStream(plain))
        } catch (err) {
          const e = err as NodeJS.ErrnoException
          // zlib's errors carry Z_* codes (or none, for a stream cut short); anything else is the disk.
          if (e.code !== undefined && !e.code.startsWith('Z_')) {
            throw new LayoutError(`${location}: cannot decompress into ${dir} (${fsReason(err)})`, {
              cause: err
            })
          }
          throw new LayoutError(`${location}: corrupt gzip data (${e.message})`, {
            cause: err,
            hint: 'the file was truncated or damaged; build or download it again'
          })
        }
        return new TarFiles(location, plain, await indexTar(location, plain), dir)
      } catch (err) {
        await rm(dir, { recursive: true, force: true })
        throw err
      }
    }
    return new TarFiles(location, location, await indexTar(location, location))
  }

  /** Follows links (at most MAX_LINK_HOPS) to the member holding the bytes. */
  #lookup(name: string): (TarEntry & { kind: 'file' }) | undefined {
    let current = normaliseName(name)
    if (current === undefined) {
      throw new LayoutError(`${this.location}: ${name} is outside the layout`, {
        hint: 'a layout may only link to files inside itself'
      })
    }
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const entry = this.#entries.get(current)
      if (!entry) return undefined
      if (entry.kind === 'file') return entry
      if (entry.kind === 'other') throw refusal(this.location, current, entry.type)
      current = entry.target
    }
    throw new LayoutError(
      `${this.location}: ${name} passes through more than ${MAX_LINK_HOPS} links (a link loop)`,
      { hint: 'a layout may only link to files inside itself' }
    )
  }

  /** Refuses the first member that is neither a file, a directory nor a link inside the layout. */
  check(): void {
    for (const [name, entry] of this.#entries) {
      if (entry.kind === 'other') throw refusal(this.location, name, entry.type)
    }
  }

  async size(name: string): Promise<number | undefined> {
    return this.#lookup(name)?.size
  }

  async open(name: string): Promise<Readable> {
    const entry = this.#lookup(name)
    if (!entry) throw new LayoutError(`${this.location}: ${name} is missing`)
    // An empty member needs no read (and createReadStream cannot express an empty range).
    if (entry.size === 0) return Readable.from([])
    const stream = createReadStream(this.#file, {
      start: entry.offset,
      end: entry.offset + entry.size - 1,
      highWaterMark: 1 << 20
    })
    return guardStream(stream, `${this.location}: ${name}`)
  }

  async reader(name: string): Promise<BlobReader> {
    const entry = this.#lookup(name)
    if (!entry) throw new LayoutError(`${this.location}: ${name} is missing`)
    const opening = (this.#handle ??= open(this.#file, 'r'))
    let fh: FileHandle
    try {
      fh = await opening
    } catch (err) {
      // Not kept: a later read tries again (and fails with its own reason).
      if (this.#handle === opening) this.#handle = undefined
      throw new LayoutError(`layout ${this.location} cannot be read (${fsReason(err)})`, {
        cause: err
      })
    }
    // The shared handle outlives each reader: it is closed with the layout.
    return {
      ...rangeReader(fh, entry.offset, entry.size, `${this.location}: ${name}`),
      close: async () => undefined
    }
  }

  async close(): Promise<void> {
    const handle = this.#handle
    this.#handle = undefined
    if (handle) await (await handle.catch(() => undefined))?.close().catch(() => undefined)
    if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true })
  }
}

function refusal(location: string, name: string, type: string): LayoutError {
  return new LayoutError(`${location}: ${name} is a ${type}, not a regular file`, {
    hint: 'a layout holds only regular files, and links to files inside itself'
  })
}

async function readExactly(
  fh: FileHandle,
  length: number,
  position: number
): Promise<Buffer | undefined> {
  const buf = Buffer.alloc(length)
  let got = 0
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got)
    if (bytesRead === 0) return got === 0 ? undefined : buf.subarray(0, got)
    got += bytesRead
  }
  return buf
}

/**
 * A member name as the layout sees it, or undefined for the archive root. Refuses what no layout
 * writer produces and what an extracting tar would refuse or rewrite: absolute names and `..`.
 */
function memberName(raw: string): string | undefined | { refused: string } {
  const slashed = raw.replace(/\\/g, '/')
  if (slashed.startsWith('/') || /^[A-Za-z]:\//.test(slashed))
    return { refused: 'points outside the archive (an absolute name)' }
  if (slashed.split('/').includes('..'))
    return { refused: 'points outside the archive (a ".." in its name)' }
  const name = normaliseName(slashed)
  return name === '' ? undefined : name
}

/** Walks the headers of a tar, seeking over member data, and maps names to byte ranges. */
async function indexTar(location: string, file: string): Promise<Map<string, TarEntry>> {
  const corrupt = (why: string): LayoutError =>
    new LayoutError(`${location}: ${why}`, {
      hint: 'expected an OCI layout tar (docker buildx build -o type=oci,dest=FILE) or a layout directory'
    })
  let fh: FileHandle
  try {
    fh = await open(file, 'r')
  } catch (err) {
    throw new LayoutError(`layout ${location} cannot be read (${fsReason(err)})`, { cause: err })
  }
  const entries = new Map<string, TarEntry>()
  try {
    const { size: fileSize } = await fh.stat()
    if (fileSize === 0) throw corrupt('the file is empty')
    let pos = 0
    let ex: HeaderData | undefined
    let gex: HeaderData | undefined
    for (;;) {
      const block = await readExactly(fh, BLOCK, pos)
      if (!block) break // end of file without the end-of-archive blocks: accepted, as GNU tar does
      if (block.length < BLOCK)
        throw corrupt(
          pos === 0 ? 'not a tar archive (too short)' : `truncated tar header at byte ${pos}`
        )
      let header: Header
      try {
        header = new Header(block, 0, ex, gex)
      } catch (err) {
        throw corrupt(`corrupt tar header at byte ${pos} (${(err as Error).message})`)
      }
      if (header.nullBlock) break
      if (!header.cksumValid) {
        throw corrupt(pos === 0 ? 'not a tar archive' : `corrupt tar header at byte ${pos}`)
      }
      // node-tar reads a negative (base-256) size as no size at all; it is a damaged header.
      if (block[124] === 0xff) throw corrupt(`tar header at byte ${pos} has a negative size`)
      const size = header.size ?? 0
      const shown = JSON.stringify((header.path ?? '?').slice(0, 200))
      if (!Number.isSafeInteger(size) || size < 0)
        throw corrupt(`tar header at byte ${pos} (${shown}) has an invalid size`)
      const at = pos
      const dataStart = pos + BLOCK
      if (dataStart + size > fileSize)
        throw corrupt(`truncated tar: ${shown} ends past the end of the file`)
      pos = dataStart + Math.ceil(size / BLOCK) * BLOCK

      switch (header.type) {
        case 'ExtendedHeader':
        case 'GlobalExtendedHeader':
        case 'NextFileHasLongPath':
        case 'OldGnuLongPath':
        case 'NextFileHasLongLinkpath': {
          if (size > MAX_EXTENDED_HEADER)
            throw corrupt(`tar extended header at byte ${at} is ${size} bytes long`)
          const body = (await readExactly(fh, size, dataStart)) ?? Buffer.alloc(0)
          if (header.type === 'ExtendedHeader' || header.type === 'GlobalExtendedHeader') {
            const global = header.type === 'GlobalExtendedHeader'
            const pax = Pax.parse(body.toString('utf8'), global ? gex : ex, global)
            if (global) gex = pax
            else ex = pax
          } else {
            const text = body.toString('utf8').replace(/\0.*$/s, '')
            ex = {
              ...ex,
              ...(header.type === 'NextFileHasLongLinkpath' ? { linkpath: text } : { path: text })
            }
          }
          continue
        }
      }
      // node-tar takes a PAX or GNU long path from `ex` but reads linkpath from the header block
      // itself, so a long link target must be taken from `ex` here.
      const linkpath = ex?.linkpath ?? header.linkpath ?? ''
      ex = undefined
      const rawName = header.path ?? ''
      const name = memberName(rawName)
      if (name === undefined) continue
      if (typeof name !== 'string')
        throw new LayoutError(
          `${location}: member ${JSON.stringify(rawName.slice(0, 200))} ${name.refused}`,
          { hint: 'a layout tar names its files relative to its root; refusing the archive' }
        )
      switch (header.type) {
        // node-tar reads the old type '\0' as 'File'.
        case 'File':
        case 'ContiguousFile':
          entries.set(name, { kind: 'file', offset: dataStart, size })
          break
        case 'SymbolicLink': {
          const link = linkpath.replace(/\\/g, '/')
          // Relative to the link's own directory; an absolute target never stays inside the layout.
          const target =
            link.startsWith('/') || link === ''
              ? undefined
              : normaliseName(path.posix.join(path.posix.dirname(name), link))
          if (target === undefined || target === '')
            entries.set(name, {
              kind: 'other',
              type: `symbolic link to ${JSON.stringify(link.slice(0, 200))} (outside the layout)`
            })
          else entries.set(name, { kind: 'link', target })
          break
        }
        case 'Link': {
          // A hard link names another member of the archive.
          const link = linkpath
          const target = memberName(link)
          if (typeof target !== 'string')
            entries.set(name, {
              kind: 'other',
              type: `hard link to ${JSON.stringify(link.slice(0, 200))} (outside the layout)`
            })
          else entries.set(name, { kind: 'link', target })
          break
        }
        case 'Directory':
          break
        case 'CharacterDevice':
          entries.set(name, { kind: 'other', type: 'character device' })
          break
        case 'BlockDevice':
          entries.set(name, { kind: 'other', type: 'block device' })
          break
        case 'FIFO':
          entries.set(name, { kind: 'other', type: 'FIFO' })
          break
        default:
          entries.set(name, { kind: 'other', type: `tar member of type ${header.type}` })
      }
    }
    return entries
  } finally {
    await fh.close()
  }
}
