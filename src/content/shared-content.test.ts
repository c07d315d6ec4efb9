// One read of a blob lent to several uploads at once, in-process: every lane gets the same bytes
// whatever its pace, the content is opened (so read and hashed) once, a lane that fails or never
// opens holds nobody up, a lane that reads again gets a read of its own, content that does not
// match its digest reaches no lane whole, and every slab goes back to the pool.
import { createHash } from 'node:crypto'
import { jest } from '@jest/globals'
import { BlobCursor, readerSource, type ChunkSink } from './blob-cursor.js'
import { SharedContent } from './shared-content.js'
import type { BlobContent } from './sink.js'
import { DigestMismatchError } from '../errors/errors.js'
import { SLAB_SIZE, SLABS_PER_TRANSFER, slabs } from '../slabs/pool.js'

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`
const bytes = (n: number, seed = 1): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

const DATA = bytes(SLAB_SIZE * 5 + 12_345)

/** Content over `data` that counts its opens (each one a read and a hash of its own). */
function counted(
  data: Buffer,
  digest = digestOf(data)
): BlobContent & { starts: number[]; slabsRead: number } {
  const c = {
    size: data.length,
    starts: [] as number[],
    slabsRead: 0,
    open: async (start = 0): Promise<BlobCursor> => {
      c.starts.push(start)
      const reader = {
        size: data.length,
        read: async (buf: Buffer, position: number): Promise<number> => {
          c.slabsRead++
          return data.copy(buf, 0, position, Math.min(data.length, position + buf.length))
        },
        close: async (): Promise<void> => undefined
      }
      const cursor = new BlobCursor(readerSource(reader), { digest, size: data.length }, 'blob X')
      if (start > 0) await cursor.skip(start)
      return cursor
    }
  }
  return c
}

interface Pace {
  /** Bytes per pump (a chunked upload), else all in one. */
  chunk?: number
  /** Milliseconds the sink holds each chunk (a slow socket). */
  hold?: number
  /** The request fails once this many bytes were lent. */
  failAfter?: number
}

/** An upload as `uploadBlob` makes one: opens from 0, pumps request by request, closes. */
async function upload(content: BlobContent, pace: Pace = {}): Promise<Buffer> {
  const cursor = await content.open(0)
  const got: Buffer[] = []
  let lent = 0
  const sink: ChunkSink = async (chunk) => {
    lent += chunk.length
    if (pace.failAfter !== undefined && lent > pace.failAfter) throw new Error('socket hang up')
    if (pace.hold) await sleep(pace.hold)
    got.push(Buffer.from(chunk))
  }
  try {
    while (cursor.position < content.size) {
      await cursor.pump(sink, Math.min(pace.chunk ?? content.size, content.size - cursor.position))
      await sleep(1) // the answer to the request
    }
  } finally {
    await cursor.close()
  }
  return Buffer.concat(got)
}

/** Runs one upload per lane as the fan-out sink does: each lane released once its upload settles. */
function fanOut(
  shared: SharedContent,
  lanes: ((content: BlobContent) => Promise<Buffer>)[]
): Promise<PromiseSettledResult<Buffer>[]> {
  return Promise.allSettled(
    lanes.map(async (run, i) => {
      try {
        return await run(shared.lane(i))
      } finally {
        shared.release(i)
      }
    })
  )
}

/** Slabs taken from the pool and given back, counted; the most out at once. */
function watchPool(): { out: () => number; most: () => number; restore: () => void } {
  let out = 0
  let most = 0
  const take = slabs.take.bind(slabs)
  const give = slabs.give.bind(slabs)
  const takeSpy = jest.spyOn(slabs, 'take').mockImplementation(() => {
    out++
    most = Math.max(most, out)
    return take()
  })
  const giveSpy = jest.spyOn(slabs, 'give').mockImplementation((chunk: Buffer) => {
    out--
    give(chunk)
  })
  return {
    out: () => out,
    most: () => most,
    restore: () => {
      takeSpy.mockRestore()
      giveSpy.mockRestore()
    }
  }
}

/** The shared read runs behind the lanes: waits until it has given every slab back. */
async function allBack(pool: { out: () => number }): Promise<number> {
  for (let i = 0; i < 200 && pool.out() !== 0; i++) await sleep(5)
  return pool.out()
}

const value = (r: PromiseSettledResult<Buffer>): Buffer => {
  if (r.status === 'rejected') throw r.reason
  return r.value
}

describe('SharedContent', () => {
  let pool: ReturnType<typeof watchPool>
  beforeEach(() => {
    pool = watchPool()
  })
  afterEach(() => {
    pool.restore()
  })

  it('lends the same bytes to every lane, at its own pace, from one read and one hash', async () => {
    const content = counted(DATA)
    const shared = new SharedContent(content, 4)
    const results = await fanOut(shared, [
      (c) => upload(c),
      // Chunks that end inside slabs: a slab goes partly in one request, the rest in the next.
      (c) => upload(c, { chunk: 100_000 }),
      (c) => upload(c, { hold: 3 }),
      (c) => upload(c, { chunk: SLAB_SIZE * 2 + 1, hold: 1 })
    ])
    for (const r of results) expect(value(r).equals(DATA)).toBe(true)
    expect(content.starts).toEqual([0])
    expect(content.slabsRead).toBe(Math.ceil(DATA.length / SLAB_SIZE))
    expect(await allBack(pool)).toBe(0)
    // Lockstep: a slow lane holds the read back rather than letting slabs pile up.
    expect(pool.most()).toBeLessThanOrEqual(SLABS_PER_TRANSFER)
  })

  it('a lane whose request fails is left behind; the others get every byte', async () => {
    const content = counted(DATA)
    const shared = new SharedContent(content, 3)
    let othersDone: () => void = () => undefined
    const others = new Promise<void>((resolve) => (othersDone = resolve))
    // Its push waits (a retry's backoff) before closing its cursor: the others go on meanwhile.
    const failing = async (c: BlobContent): Promise<Buffer> => {
      const cursor = await c.open(0)
      let lent = 0
      const pumped = cursor.pump(async (chunk) => {
        lent += chunk.length
        if (lent > SLAB_SIZE + 10) throw new Error('socket hang up')
      })
      await pumped.catch(() => others)
      await cursor.close()
      return pumped.then(() => Buffer.alloc(0))
    }
    const results = await fanOut(shared, [
      (c) => upload(c, { chunk: 150_000 }).finally(() => othersDone()),
      failing,
      (c) => upload(c, { hold: 2 })
    ])
    expect(value(results[0]).equals(DATA)).toBe(true)
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { message: 'socket hang up' } })
    expect(value(results[2]).equals(DATA)).toBe(true)
    expect(content.starts).toEqual([0])
    expect(await allBack(pool)).toBe(0)
  })

  it('a lane that never opens (its blob was mounted) holds nobody up once released', async () => {
    const content = counted(DATA)
    const shared = new SharedContent(content, 3)
    const results = await fanOut(shared, [
      (c) => upload(c),
      async () => {
        await sleep(20)
        return Buffer.alloc(0) // mounted: nothing read
      },
      (c) => upload(c, { chunk: 300_000 })
    ])
    expect(value(results[0]).equals(DATA)).toBe(true)
    expect(value(results[2]).equals(DATA)).toBe(true)
    expect(content.starts).toEqual([0])
    expect(await allBack(pool)).toBe(0)
  })

  it('nothing is read when no lane opens', async () => {
    const content = counted(DATA)
    const shared = new SharedContent(content, 2)
    await fanOut(shared, [async () => Buffer.alloc(0), async () => Buffer.alloc(0)])
    expect(content.starts).toEqual([])
  })

  it('the read stops when every lane has failed', async () => {
    const big = bytes(SLAB_SIZE * 40)
    const content = counted(big)
    const shared = new SharedContent(content, 2)
    const results = await fanOut(shared, [
      (c) => upload(c, { failAfter: 10 }),
      (c) => upload(c, { failAfter: SLAB_SIZE })
    ])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    expect(await allBack(pool)).toBe(0)
    expect(content.slabsRead).toBeLessThan(10)
  })

  it('a lane that reads again (a retry, a resumed chunk) gets a read of its own', async () => {
    const content = counted(DATA)
    const shared = new SharedContent(content, 3)
    const resumed = async (c: BlobContent): Promise<Buffer> => {
      // The first request got 300 000 bytes through before its connection was cut.
      const first = await c.open(0)
      const got: Buffer[] = []
      await first.pump(async (chunk) => void got.push(Buffer.from(chunk)), 300_000)
      await first.close()
      const rest = await c.open(300_000)
      expect(rest.position).toBe(300_000)
      await rest.pump(async (chunk) => void got.push(Buffer.from(chunk)))
      await rest.close()
      return Buffer.concat(got)
    }
    const again = async (c: BlobContent): Promise<Buffer> => {
      await upload(c, { chunk: 200_000 })
      return upload(c) // opened after the shared read started: from the start, on its own
    }
    const results = await fanOut(shared, [(c) => upload(c), resumed, again])
    for (const r of results) expect(value(r).equals(DATA)).toBe(true)
    expect(content.starts.sort((a, b) => a - b)).toEqual([0, 0, 300_000])
    expect(await allBack(pool)).toBe(0)
  })

  it('a lane pumped again before its last pump ended reads on from where it is, on its own', async () => {
    const content = counted(DATA)
    const shared = new SharedContent(content, 2)
    const superseding = async (c: BlobContent): Promise<Buffer> => {
      const cursor = await c.open(0)
      const got: Buffer[] = []
      // A request that failed before its body went out leaves its pump waiting; the retry pumps.
      const abandoned = cursor.pump(async () => {
        throw new Error('the request was closed')
      })
      const retried = cursor.pump(async (chunk) => void got.push(Buffer.from(chunk)))
      await expect(abandoned).rejects.toThrow()
      await retried
      await cursor.close()
      return Buffer.concat(got)
    }
    const results = await fanOut(shared, [(c) => upload(c, { hold: 1 }), superseding])
    for (const r of results) expect(value(r).equals(DATA)).toBe(true)
    expect(await allBack(pool)).toBe(0)
  })

  it('content that does not match its digest fails every lane before its last slab', async () => {
    const content = counted(DATA, digestOf(bytes(DATA.length, 2)))
    const shared = new SharedContent(content, 3)
    const got = [0, 0, 0]
    const counting = (i: number, pace: Pace) => async (c: BlobContent) => {
      const cursor = await c.open(0)
      try {
        const step = pace.chunk ?? c.size
        while (cursor.position < c.size)
          await cursor.pump(async (chunk) => {
            got[i] += chunk.length
          }, step)
      } finally {
        await cursor.close()
      }
      return Buffer.alloc(0)
    }
    const results = await fanOut(shared, [
      counting(0, {}),
      counting(1, { chunk: 70_000 }),
      counting(2, {})
    ])
    for (const r of results) {
      expect(r.status).toBe('rejected')
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(DigestMismatchError)
    }
    const lastSlab = DATA.length % SLAB_SIZE
    for (const n of got) expect(n).toBeLessThanOrEqual(DATA.length - lastSlab)
    expect(content.starts).toEqual([0])
    expect(await allBack(pool)).toBe(0)
  })

  it('empty content: each lane reads (and checks) it on its own', async () => {
    const content = counted(Buffer.alloc(0))
    const shared = new SharedContent(content, 2)
    const results = await fanOut(shared, [(c) => upload(c), (c) => upload(c)])
    for (const r of results) expect(value(r).length).toBe(0)
  })
})
