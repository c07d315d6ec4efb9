// Writing content into layout files, in-process (mutation testing sees these): bytes land where
// they belong however the file takes them, a file of its own is written front to back one write
// at a time, and a disk that refuses bytes is one line naming the file.
import { createHash } from 'node:crypto'
import { lstatSync, statSync, type Stats } from 'node:fs'
import { open, readFile, symlink, writeFile, type FileHandle } from 'node:fs/promises'
import { createServer } from 'node:net'
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { Readable } from 'node:stream'
import { BlobCursor, readerSource, type BlobReader } from '../content/blob-cursor.js'
import { LayoutError, OciError } from '../errors/errors.js'
import { SLAB_SIZE } from '../slabs/pool.js'
import { slabWrites, WORKER_MIN_BYTES, WRITE_PIECE } from '../slabs/thread.js'
import type { BlobContent } from '../content/sink.js'
import { fileKind } from './dir-files.js'
import { fsReason, guardStream, normaliseName, rangeReader, writeContentAt } from './files.js'
import { tmpDir } from '../../__tests__/helpers/skopeo.js'
import { caught, streamText } from '../../__tests__/helpers/settle.js'

const bytes = (n: number, seed = 7): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed) & 0xff))
const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

/** A blob over `data`, recording whether its reader was closed. */
function blob(data: Buffer): BlobContent & { closed: boolean } {
  const content = {
    size: data.length,
    closed: false,
    open: async (): Promise<BlobCursor> => {
      const reader: BlobReader = {
        size: data.length,
        read: async (buf, position) => data.copy(buf, 0, position, position + buf.length),
        close: async () => {
          content.closed = true
        }
      }
      return new BlobCursor(
        readerSource(reader),
        { digest: digestOf(data), size: data.length },
        'blob'
      )
    }
  }
  return content
}

/**
 * A file handle over memory that takes at most `piece` bytes a write, each write settling after
 * a turn of the event loop, and records how many writes were in flight at once.
 */
function memoryFile(
  piece = Infinity
): FileHandle & { data: Buffer; calls: number; maxInFlight: number } {
  let inFlight = 0
  const f = {
    fd: -1,
    data: Buffer.alloc(0),
    calls: 0,
    maxInFlight: 0,
    write: async (buf: Buffer, off: number, len: number, at: number) => {
      f.calls++
      f.maxInFlight = Math.max(f.maxInFlight, ++inFlight)
      await new Promise((r) => setImmediate(r))
      inFlight--
      if (off + len > buf.length) throw new RangeError('write past the buffer')
      const n = Math.min(len, piece)
      if (f.data.length < at + n)
        f.data = Buffer.concat([f.data, Buffer.alloc(at + n - f.data.length)])
      buf.copy(f.data, at, off, off + n)
      return { bytesWritten: n, buffer: buf }
    }
  }
  return f as unknown as FileHandle & typeof f
}

describe('writeContentAt', () => {
  it('writes bytes at the position given, in pieces, going on after short writes', async () => {
    const data = bytes(3 * WRITE_PIECE + 100)
    const whole = memoryFile()
    expect(await writeContentAt(whole, data, 10, 'f')).toBe(data.length)
    expect(whole.data.subarray(10).equals(data)).toBe(true)
    expect(whole.calls).toBe(4)
    const short = memoryFile(1000)
    expect(await writeContentAt(short, data, 0, 'f')).toBe(data.length)
    expect(short.data.equals(data)).toBe(true)
    expect(short.calls).toBe(Math.ceil(data.length / 1000))
  })

  it('writes a blob slab by slab where each belongs, closing its reader', async () => {
    const data = bytes(3 * SLAB_SIZE + 5)
    for (const inOrder of [false, true]) {
      const f = memoryFile()
      const content = blob(data)
      expect(await writeContentAt(f, content, 3, 'f', { inOrder })).toBe(data.length)
      expect(f.data.subarray(3).equals(data)).toBe(true)
      expect(content.closed).toBe(true)
      // A file of its own gets one write at a time; a region of a shared one, as slabs come.
      if (inOrder) expect(f.maxInFlight).toBe(1)
      else expect(f.maxInFlight).toBeGreaterThan(1)
    }
  })

  it('a file that takes no bytes, or a full disk, is a write error naming the file', async () => {
    const stuck = memoryFile(0)
    const hint = 'check that the destination has free space and is writable'
    for (const content of [bytes(10), blob(bytes(SLAB_SIZE + 1))])
      expect(await caught(writeContentAt(stuck, content, 0, 'lay: blob X'))).toMatchObject({
        constructor: LayoutError,
        message: 'lay: blob X: cannot be written (the file took no bytes)',
        hint
      })
    const full = await open('/dev/full', 'w')
    try {
      // A large blob is written by a slab thread: its failure reads the same.
      for (const [content, inOrder] of [
        [bytes(10), false],
        [blob(bytes(SLAB_SIZE)), false],
        [blob(bytes(SLAB_SIZE)), true],
        [blob(bytes(WORKER_MIN_BYTES)), true]
      ] as const) {
        const err = await caught(writeContentAt(full, content, 0, 'lay: blob X', { inOrder }))
        expect(err).toMatchObject({
          constructor: LayoutError,
          message: 'lay: blob X: cannot be written (ENOSPC)',
          hint,
          cause: expect.objectContaining({ code: 'ENOSPC' })
        })
      }
    } finally {
      await full.close()
    }
  })

  it('a large blob goes to a real file byte for byte', async () => {
    // It goes to a slab thread (slab-worker.js found beside thread.ts), which writes it.
    expect(slabWrites(WORKER_MIN_BYTES)).toBeDefined()
    const data = bytes(WORKER_MIN_BYTES + SLAB_SIZE + 3)
    const file = path.join(await tmpDir('write-'), 'blob')
    const fh = await open(file, 'w+')
    try {
      expect(await writeContentAt(fh, blob(data), 0, 'f', { inOrder: true })).toBe(data.length)
    } finally {
      await fh.close()
    }
    expect((await readFile(file)).equals(data)).toBe(true)
  })
})

describe('file helpers', () => {
  it('normaliseName drops ./, leading / and backslashes, and refuses a climb out', () => {
    expect(normaliseName('./blobs/sha256/aa')).toBe('blobs/sha256/aa')
    expect(normaliseName('/index.json')).toBe('index.json')
    expect(normaliseName('blobs\\sha256\\aa')).toBe('blobs/sha256/aa')
    expect(normaliseName('a/b/../c')).toBe('a/c')
    expect(normaliseName('a/../../c')).toBeUndefined()
    expect(normaliseName('..')).toBeUndefined()
    expect(normaliseName('./')).toBe('')
  })

  it('fsReason gives the code, else the message, else the value', () => {
    expect(fsReason(Object.assign(new Error('boom'), { code: 'EIO' }))).toBe('EIO')
    expect(fsReason(new Error('boom'))).toBe('boom')
    expect(fsReason('plain')).toBe('plain')
    expect(fsReason(undefined)).toBe('undefined')
  })

  it('fileKind names each kind of file', async () => {
    expect(fileKind(statSync('/dev/null'))).toBe('a character device')
    expect(fileKind(statSync('/'))).toBe('a directory')
    const dir = await tmpDir('kinds-')
    execFileSync('mkfifo', [path.join(dir, 'fifo')])
    expect(fileKind(statSync(path.join(dir, 'fifo')))).toBe('a FIFO')
    await symlink('fifo', path.join(dir, 'link'))
    expect(fileKind(lstatSync(path.join(dir, 'link')))).toBe('a symbolic link')
    const server = createServer()
    await new Promise<void>((r) => server.listen(path.join(dir, 'sock'), r))
    try {
      expect(fileKind(statSync(path.join(dir, 'sock')))).toBe('a socket')
    } finally {
      await new Promise((r) => server.close(r))
    }
    // No block device can be counted on here: a stat that says so, and one that says nothing.
    const kind = (which?: string): Stats => {
      const is = (k: string) => () => k === which
      return {
        isDirectory: is('dir'),
        isFIFO: is('fifo'),
        isCharacterDevice: is('char'),
        isBlockDevice: is('block'),
        isSocket: is('socket'),
        isSymbolicLink: is('link')
      } as unknown as Stats
    }
    expect(fileKind(kind('block'))).toBe('a block device')
    expect(fileKind(kind())).toBe('not a regular file')
  })

  it('guardStream names the file in a read error, and passes our own errors on', async () => {
    const failing = new Readable({ read() {} })
    const guarded = guardStream(failing, 'lay: blobs/sha256/aa')
    failing.destroy(Object.assign(new Error('x'), { code: 'EIO' }))
    const err = await caught(streamText(guarded))
    expect(err).toBeInstanceOf(LayoutError)
    expect(String(err)).toContain('lay: blobs/sha256/aa: cannot be read (EIO)')
    expect(err).toMatchObject({ cause: expect.objectContaining({ code: 'EIO' }) })
    const ours = new OciError('already said')
    const source = new Readable({ read() {} })
    const out = guardStream(source, 'w')
    source.destroy(ours)
    expect(await caught(streamText(out))).toBe(ours)
    // Destroying what was handed out destroys the file stream under it.
    const under = new Readable({ read() {} })
    guardStream(under, 'w').destroy()
    await new Promise((r) => setImmediate(r))
    expect(under.destroyed).toBe(true)
  })

  it('rangeReader reads its range only, and names the file when a read fails', async () => {
    const dir = await tmpDir('range-')
    const file = path.join(dir, 'f')
    await writeFile(file, '0123456789')
    const fh = await open(file, 'r')
    const r = rangeReader(fh, 2, 5, 'tar: member')
    const buf = Buffer.alloc(10)
    expect(await r.read(buf, 0)).toBe(5)
    expect(buf.subarray(0, 5).toString()).toBe('23456')
    expect(await r.read(buf, 3)).toBe(2)
    expect(buf.subarray(0, 2).toString()).toBe('56')
    expect(await r.read(buf, 5)).toBe(0)
    expect(await r.read(buf, 9)).toBe(0)
    await fh.close()
    const err = await caught(r.read(buf, 0))
    expect(err).toBeInstanceOf(LayoutError)
    expect(String(err)).toMatch(/tar: member: cannot be read \(EBADF\)/)
    expect(err).toMatchObject({ cause: expect.objectContaining({ code: 'EBADF' }) })
    // At the end of the range nothing is read, so a closed handle does not matter.
    expect(await r.read(buf, 5)).toBe(0)
    await r.close() // closing twice is harmless
    const fh2 = await open(file, 'r')
    await rangeReader(fh2, 0, 10, 'f').close()
    expect(fh2.fd).toBe(-1)
  })
})
