// The verifying reader every blob goes through, in-process (mutation testing sees these): bytes
// are lent to a sink in order, the digest and size are checked before the last slab is lent, and
// every slab comes back.
import { createHash } from 'node:crypto'
import { PassThrough, Readable } from 'node:stream'
import {
  BlobCursor,
  readCursor,
  readerSource,
  StreamSource,
  type BlobReader,
  type ChunkSource
} from './blob-cursor.js'
import { DigestMismatchError, OciError, SizeMismatchError } from '../errors/errors.js'
import { SLAB_SIZE, SLABS_PER_TRANSFER } from '../slabs/pool.js'

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`
const bytes = (n: number, seed = 1): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

/** A reader over `data` that returns at most `step` bytes per read, counting its reads. */
function reader(data: Buffer, step = Infinity): BlobReader & { reads: number; closed: boolean } {
  const r = {
    size: data.length,
    reads: 0,
    closed: false,
    read: async (buf: Buffer, position: number): Promise<number> => {
      r.reads++
      const n = Math.min(buf.length, step, Math.max(0, data.length - position))
      data.copy(buf, 0, position, position + n)
      return n
    },
    close: async (): Promise<void> => {
      r.closed = true
    }
  }
  return r
}

/** A sink that copies what it is lent (the slab goes back to the pool after). */
function collector(): { sink: (c: Buffer) => Promise<void>; got: Buffer[]; all: () => Buffer } {
  const got: Buffer[] = []
  return { got, sink: async (c) => void got.push(Buffer.from(c)), all: () => Buffer.concat(got) }
}

const cursorOver = (
  source: ChunkSource,
  data: Buffer,
  hint?: string,
  size = data.length
): BlobCursor => new BlobCursor(source, { digest: digestOf(data), size }, 'blob X', undefined, hint)

describe('BlobCursor', () => {
  it('lends every byte in order, in slabs, and reports progress up to the size', async () => {
    const data = bytes(SLAB_SIZE * 2 + 1000)
    const progress: number[] = []
    const c = new BlobCursor(
      readerSource(reader(data)),
      { digest: digestOf(data), size: data.length },
      'blob X',
      (n) => progress.push(n)
    )
    const out = collector()
    await c.pump(out.sink)
    expect(out.all().equals(data)).toBe(true)
    expect(out.got.map((g) => g.length)).toEqual([SLAB_SIZE, SLAB_SIZE, 1000])
    expect(progress).toEqual([SLAB_SIZE, SLAB_SIZE * 2, data.length])
    expect(c.position).toBe(data.length)
    await c.close()
  })

  it('never lends the last slab of content that does not match its digest', async () => {
    const data = bytes(SLAB_SIZE + 10)
    const bad = Buffer.from(data)
    bad[bad.length - 1] ^= 0xff
    const c = new BlobCursor(
      readerSource(reader(bad)),
      { digest: digestOf(data), size: data.length },
      'blob X',
      undefined,
      'HINT'
    )
    const out = collector()
    const err = await c.pump(out.sink).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DigestMismatchError)
    expect(err).toMatchObject({
      message: `blob X: content does not match its digest (expected ${digestOf(data)}, got ${digestOf(bad)})`,
      hint: 'HINT'
    })
    expect(out.all().equals(data.subarray(0, SLAB_SIZE))).toBe(true)
    await c.close()
  })

  it('fails a short source with its size, and a long one before its last slab is lent', async () => {
    const data = bytes(5000)
    const short = cursorOver(readerSource(reader(data.subarray(0, 4000))), data, 'H')
    await expect(short.pump(collector().sink)).rejects.toMatchObject({
      constructor: SizeMismatchError,
      message: 'blob X: 4000 bytes, but its descriptor says 5000',
      hint: 'H'
    })
    // The stream has 5 bytes more than the descriptor says: found before anything is lent.
    const long = cursorOver(
      new StreamSource(Readable.from([Buffer.concat([data, bytes(5)])])),
      data
    )
    const out = collector()
    const err = await long.pump(out.sink).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SizeMismatchError)
    expect(String(err)).toContain('blob X: 5005 bytes, but its descriptor says 5000')
    expect(out.got).toEqual([])
  })

  it('checks empty content at once, and fails empty content that is not empty', async () => {
    const empty = Buffer.alloc(0)
    const ok = cursorOver(readerSource(reader(empty)), empty)
    const out = collector()
    await ok.pump(out.sink)
    expect(out.got).toEqual([])
    const wrong = new BlobCursor(
      readerSource(reader(empty)),
      { digest: digestOf(Buffer.from('x')), size: 0 },
      'blob E'
    )
    await expect(wrong.pump(collector().sink)).rejects.toBeInstanceOf(DigestMismatchError)
    const long = cursorOver(new StreamSource(Readable.from([Buffer.from('abc')])), empty)
    await expect(long.pump(collector().sink)).rejects.toThrow(/3 bytes, but its descriptor says 0/)
  })

  it('skips (hashing, not lending) and then lends the rest, in pieces', async () => {
    const data = bytes(SLAB_SIZE + 300)
    const c = cursorOver(readerSource(reader(data, 1000)), data)
    await c.skip(100)
    expect(c.position).toBe(100)
    const out = collector()
    await c.pump(out.sink, 200)
    expect(c.position).toBe(300)
    await c.pump(out.sink)
    expect(out.all().equals(data.subarray(100))).toBe(true)
  })

  it('waits for every lent slab before failing with a sink error', async () => {
    const data = bytes(SLAB_SIZE * 3)
    const c = cursorOver(readerSource(reader(data)), data)
    let inFlight = 0
    let calls = 0
    const err = await c
      .pump(async () => {
        const call = ++calls
        inFlight++
        await new Promise((r) => setTimeout(r, 20 * call))
        inFlight--
        if (call === 1) throw new Error('sink broke')
      })
      .catch((e: unknown) => e)
    expect(String(err)).toContain('sink broke')
    expect(inFlight).toBe(0)
  })

  it('lends at most three slabs at once, and stops reading once a sink fails', async () => {
    const data = bytes(SLAB_SIZE * 8)
    let inFlight = 0
    let most = 0
    await cursorOver(readerSource(reader(data)), data).pump(async () => {
      most = Math.max(most, ++inFlight)
      await new Promise((r) => setTimeout(r, 5))
      inFlight--
    })
    expect(most).toBe(SLABS_PER_TRANSFER - 1)
    let calls = 0
    const err = await cursorOver(readerSource(reader(data)), data)
      .pump(async () => {
        calls++
        throw new Error('sink broke')
      })
      .catch((e: unknown) => e)
    expect(String(err)).toContain('sink broke')
    expect(calls).toBeLessThan(4)
  })

  it('closes its source', async () => {
    const data = bytes(10)
    const r = reader(data)
    const c = cursorOver(readerSource(r), data)
    await c.close()
    expect(r.closed).toBe(true)
  })
})

describe('readerSource', () => {
  it('keeps reading a reader that returns less than asked, until the slab is full or the end', async () => {
    const data = bytes(10_000)
    const r = reader(data, 3)
    const s = readerSource(r)
    const first = await s.next(4096)
    expect(first?.length).toBe(4096)
    expect(first?.equals(data.subarray(0, 4096))).toBe(true)
    // No read past a full slab: 4096 bytes three at a time are 1366 reads.
    expect(r.reads).toBe(Math.ceil(4096 / 3))
    const second = await s.next(1 << 20)
    expect(second?.length).toBe(10_000 - 4096)
    expect(await s.next(10)).toBeUndefined()
    expect(await s.rest()).toBe(0)
  })
})

describe('StreamSource', () => {
  it('keeps what a stream emits while nobody waits, and gives it in order', async () => {
    const stream = new PassThrough()
    const s = new StreamSource(stream)
    stream.write(Buffer.from('abc'))
    stream.write(Buffer.from('def'))
    stream.end(Buffer.from('gh'))
    const got: string[] = []
    for (let c = await s.next(4); c; c = await s.next(4)) got.push(c.toString())
    expect(got.join('')).toBe('abcdefgh')
    expect(got.every((g) => g.length <= 4)).toBe(true)
  })

  it('keeps the rest of a chunk larger than asked for, and data emitted while paused', async () => {
    const stream = new PassThrough()
    const s = new StreamSource(stream)
    stream.end(Buffer.from('abcdefgh'))
    const got: string[] = []
    for (let c = await s.next(2); c; c = await s.next(2)) got.push(c.toString())
    expect(got).toEqual(['ab', 'cd', 'ef', 'gh'])
    // A stream may emit what it already holds after a pause: kept, in order, for the next fill.
    const held = new PassThrough()
    const t = new StreamSource(held)
    held.emit('data', Buffer.from('xy'))
    held.emit('data', Buffer.from('z'))
    held.end()
    expect((await t.next(10))?.toString()).toBe('xyz')
  })

  it('rejects with the stream error, and with a premature close', async () => {
    const failing = new PassThrough()
    const a = new StreamSource(failing)
    const pending = a.next(100)
    failing.destroy(new Error('socket hang up'))
    await expect(pending).rejects.toThrow('socket hang up')

    const closing = new PassThrough()
    const b = new StreamSource(closing)
    closing.write(Buffer.from('x'))
    expect((await b.next(1))?.toString()).toBe('x')
    const waiting = b.next(100)
    closing.destroy()
    await expect(waiting).rejects.toMatchObject({
      code: 'ERR_STREAM_PREMATURE_CLOSE',
      message: 'the stream closed before its end'
    })
  })

  it('says how many bytes run past the end, and destroys an unfinished stream on close', async () => {
    const stream = new PassThrough()
    const s = new StreamSource(stream)
    stream.end(Buffer.from('0123456789'))
    expect((await s.next(4))?.toString()).toBe('0123')
    expect(await s.rest()).toBe(6)
    const open = new PassThrough()
    const t = new StreamSource(open)
    await t.close()
    expect(open.destroyed).toBe(true)
  })
})

describe('readCursor', () => {
  it('reads whole content, and refuses content over the limit before reading', async () => {
    const data = bytes(3000)
    const r = reader(data)
    expect(
      (await readCursor(cursorOver(readerSource(r), data), 3000, 3000, 'manifest M')).equals(data)
    ).toBe(true)
    expect(r.closed).toBe(true)
    const two = bytes(SLAB_SIZE + 5)
    const whole = await readCursor(
      cursorOver(readerSource(reader(two)), two),
      two.length,
      two.length,
      'M'
    )
    expect(whole.equals(two)).toBe(true)
    const big = reader(data)
    const err = await readCursor(
      cursorOver(readerSource(big), data),
      3000,
      2999,
      'manifest M'
    ).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OciError)
    expect(String(err)).toContain('manifest M is larger than 2999 bytes')
    expect(big.reads).toBe(0)
  })
})
