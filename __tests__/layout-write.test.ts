// Writing content into layout files, in-process (mutation testing sees these): bytes land where
// they belong however the file takes them, a file of its own is written front to back one write
// at a time, and a disk that refuses bytes is one line naming the file.
import { createHash } from 'node:crypto'
import { open, readFile, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { BlobCursor, readerSource, type BlobReader } from '../src/content/blob-cursor.js'
import { LayoutError } from '../src/errors/errors.js'
import { SLAB_SIZE } from '../src/slabs/pool.js'
import { createHasher, WORKER_MIN_BYTES, WRITE_PIECE } from '../src/slabs/thread.js'
import type { BlobContent } from '../src/content/sink.js'
import { writeContentAt } from '../src/layout/files.js'
import { tmpDir } from './helpers/skopeo.js'
import { caught } from './helpers/settle.js'

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
      // A large blob is written by the slab thread that hashes it: its failure reads the same.
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
    // It goes to a slab thread (slab-worker.js found beside slab-thread.ts), which writes it.
    const hasher = createHasher('sha256', WORKER_MIN_BYTES)
    expect(hasher.writes).toBe(true)
    hasher.drop()
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
