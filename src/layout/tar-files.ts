import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { Header, Pax, type HeaderData } from 'tar'
import { LayoutError } from '../content/errors.js'
import { normaliseName, type LayoutFiles } from './files.js'

const BLOCK = 512

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
    if (await isGzipFile(location)) {
      const dir = await mkdtemp(path.join(opts.tempDir ?? tmpdir(), 'oci-layout-'))
      const plain = path.join(dir, 'layout.tar')
      try {
        await pipeline(createReadStream(location), createGunzip(), createWriteStream(plain))
        return new TarFiles(location, plain, await indexTar(location, plain), dir)
      } catch (err) {
        await rm(dir, { recursive: true, force: true })
        if (err instanceof LayoutError) throw err
        throw new LayoutError(`${location}: corrupt gzip data (${(err as Error).message})`, {
          hint: 'the file was truncated or damaged; build or download it again'
        })
      }
    }
    return new TarFiles(location, location, await indexTar(location, location))
  }

  /** Follows links (at most 16 hops) to the member holding the bytes. */
  #lookup(name: string): (TarEntry & { kind: 'file' }) | undefined {
    let current = normaliseName(name)
    for (let hops = 0; current !== undefined && hops < 16; hops++) {
      const entry = this.#entries.get(current)
      if (!entry) return undefined
      if (entry.kind === 'file') return entry
      if (entry.kind === 'other') {
        throw new LayoutError(`${this.location}: ${current} is a ${entry.type}, not a file`, {
          hint: 'a layout holds only regular files'
        })
      }
      current = entry.target
    }
    if (current === undefined) {
      throw new LayoutError(`${this.location}: ${name} links outside the layout`, {
        hint: 'a layout may only link to files inside itself'
      })
    }
    return undefined
  }

  async size(name: string): Promise<number | undefined> {
    return this.#lookup(name)?.size
  }

  async open(name: string): Promise<Readable> {
    const entry = this.#lookup(name)
    if (!entry) throw new LayoutError(`${this.location}: ${name} is missing`)
    if (entry.size === 0) return createReadStream(this.#file, { start: 1, end: 0 })
    return createReadStream(this.#file, {
      start: entry.offset,
      end: entry.offset + entry.size - 1,
      highWaterMark: 1 << 20
    })
  }

  async close(): Promise<void> {
    if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true })
  }
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

/** Walks the headers of a tar, seeking over member data, and maps names to byte ranges. */
async function indexTar(location: string, file: string): Promise<Map<string, TarEntry>> {
  const fh = await open(file, 'r')
  const entries = new Map<string, TarEntry>()
  const corrupt = (why: string): LayoutError =>
    new LayoutError(`${location}: ${why}`, {
      hint: 'expected an OCI layout tar (docker buildx build -o type=oci,dest=FILE) or a layout directory'
    })
  try {
    const { size: fileSize } = await fh.stat()
    if (fileSize === 0) throw corrupt('the file is empty')
    let pos = 0
    let ex: HeaderData | undefined
    let gex: HeaderData | undefined
    for (;;) {
      const block = await readExactly(fh, BLOCK, pos)
      if (!block) break // end of file without the end-of-archive blocks: accepted, as GNU tar does
      if (block.length < BLOCK) throw corrupt(`truncated tar header at byte ${pos}`)
      const header = new Header(block, 0, ex, gex)
      if (header.nullBlock) break
      if (!header.cksumValid) {
        throw corrupt(pos === 0 ? 'not a tar archive' : `corrupt tar header at byte ${pos}`)
      }
      const size = header.size ?? 0
      const dataStart = pos + BLOCK
      if (dataStart + size > fileSize)
        throw corrupt(`truncated tar: ${header.path ?? '?'} ends past the end of the file`)
      pos = dataStart + Math.ceil(size / BLOCK) * BLOCK

      switch (header.type) {
        case 'ExtendedHeader':
        case 'GlobalExtendedHeader': {
          const body = await readExactly(fh, size, dataStart)
          const pax = Pax.parse(
            (body ?? Buffer.alloc(0)).toString('utf8'),
            ex,
            header.type === 'GlobalExtendedHeader'
          )
          if (header.type === 'GlobalExtendedHeader') gex = pax
          else ex = pax
          continue
        }
        case 'NextFileHasLongPath':
        case 'OldGnuLongPath':
        case 'NextFileHasLongLinkpath': {
          const body = ((await readExactly(fh, size, dataStart)) ?? Buffer.alloc(0))
            .toString('utf8')
            .replace(/\0.*$/s, '')
          ex = {
            ...ex,
            ...(header.type === 'NextFileHasLongLinkpath' ? { linkpath: body } : { path: body })
          }
          continue
        }
      }
      ex = undefined
      const rawName = header.path ?? ''
      const name = normaliseName(rawName)
      // A leading `/` is dropped, as tar does; a `..` that climbs out of the archive is refused.
      if (name === undefined) throw corrupt(`member "${rawName}" points outside the archive`)
      if (name === '') continue
      switch (header.type) {
        case 'File':
        case 'OldFile':
        case 'ContiguousFile':
          entries.set(name, { kind: 'file', offset: dataStart, size })
          break
        case 'SymbolicLink': {
          const link = header.linkpath ?? ''
          // Relative to the link's own directory; an absolute target never stays inside the layout.
          const target = link.startsWith('/')
            ? undefined
            : normaliseName(path.posix.join(path.posix.dirname(name), link))
          if (target === undefined)
            entries.set(name, { kind: 'other', type: `symlink to ${link} (outside the layout)` })
          else entries.set(name, { kind: 'link', target })
          break
        }
        case 'Link': {
          const target = normaliseName(header.linkpath ?? '')
          if (target === undefined)
            entries.set(name, {
              kind: 'other',
              type: `hard link to ${header.linkpath} (outside the layout)`
            })
          else entries.set(name, { kind: 'link', target })
          break
        }
        case 'Directory':
          break
        default:
          entries.set(name, { kind: 'other', type: header.type })
      }
    }
    return entries
  } finally {
    await fh.close()
  }
}
