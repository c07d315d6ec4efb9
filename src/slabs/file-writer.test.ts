// The file writer and the slab threads under it, in-process: a slab's hash and its write go to
// one thread in one message, writes land where asked and a failed one carries the OS code, in
// order on this thread a failed write fails only its chunk, and a thread that dies fails what it
// was given and leaves later work to this thread.
import { createHash, randomBytes } from 'node:crypto'
import { open, readFile, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { jest } from '@jest/globals'
import { OciError } from '../errors/errors.js'
import { fileWriter } from './file-writer.js'
import { createHasher } from './hasher.js'
import type { ToSlabThread } from './messages.js'
import { SLAB_SIZE, slabs } from './pool.js'
import { SlabFileError, slabHash, slabWrites, WORKER_MIN_BYTES } from './thread.js'
import { tmpDir } from '../../__tests__/helpers/skopeo.js'
import { caught } from '../../__tests__/helpers/settle.js'

/** A pool slab holding `data`. */
function slabOf(data: Buffer): Buffer {
  const slab = slabs.take()
  data.copy(slab)
  return slab.subarray(0, data.length)
}

async function tempFile(flags: string): Promise<{ file: string; fh: FileHandle }> {
  const file = path.join(await tmpDir('writer-'), 'blob')
  return { file, fh: await open(file, flags) }
}

afterEach(() => jest.restoreAllMocks())

describe('on a slab thread', () => {
  it("sends a slab's hash and write in one message, and both are done", async () => {
    const data = randomBytes(SLAB_SIZE)
    const { file, fh } = await tempFile('w+')
    const chunk = slabOf(data)
    const posted = jest.spyOn(Worker.prototype, 'postMessage')
    try {
      const hasher = createHasher('sha256', WORKER_MIN_BYTES)
      const writer = fileWriter(fh, WORKER_MIN_BYTES)
      // As a cursor lends a slab: hashed, then written, in the same turn.
      const hashed = hasher.update(chunk)
      const written = writer.write(chunk, 7)
      await Promise.all([hashed, written])
      const batches = posted.mock.calls.map(([batch]) => (batch as ToSlabThread[]).map((m) => m.op))
      expect(batches).toHaveLength(1)
      expect(batches[0].slice(-2)).toEqual(['update', 'write'])
      expect(await hasher.digest()).toBe(createHash('sha256').update(data).digest('hex'))
    } finally {
      await fh.close()
      slabs.give(chunk)
    }
    const written = await readFile(file)
    expect(written.subarray(7).equals(data)).toBe(true)
  })

  it('a failed write carries the OS code, there as here', async () => {
    const { file, fh } = await tempFile('w')
    await fh.close()
    const ro = await open(file, 'r')
    const chunk = slabOf(randomBytes(100))
    try {
      const there = await caught(fileWriter(ro, WORKER_MIN_BYTES).write(chunk, 0))
      expect(there).toBeInstanceOf(SlabFileError)
      expect(there).toMatchObject({ code: 'EBADF' })
      expect(await caught(fileWriter(ro, 100).write(chunk, 0))).toMatchObject({ code: 'EBADF' })
    } finally {
      await ro.close()
      slabs.give(chunk)
    }
  })
})

describe('on this thread', () => {
  /** A file whose first write fails, recording the writes in flight at once. */
  function failingFirst(): FileHandle & { data: Buffer; maxInFlight: number } {
    let inFlight = 0
    let calls = 0
    const f = {
      data: Buffer.alloc(8),
      maxInFlight: 0,
      write: async (buf: Buffer, off: number, len: number, at: number) => {
        f.maxInFlight = Math.max(f.maxInFlight, ++inFlight)
        await new Promise((r) => setImmediate(r))
        inFlight--
        if (calls++ === 0) throw Object.assign(new Error('no'), { code: 'EIO' })
        buf.copy(f.data, at, off, off + len)
        return { bytesWritten: len, buffer: buf }
      }
    }
    return f as unknown as FileHandle & typeof f
  }

  it('in order, one write at a time; a failed write fails its own chunk only', async () => {
    const f = failingFirst()
    const writer = fileWriter(f, 8, { inOrder: true })
    const results = await Promise.allSettled([
      writer.write(Buffer.from('ab'), 0),
      writer.write(Buffer.from('cd'), 2),
      writer.write(Buffer.from('ef'), 4)
    ])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled'])
    expect(results[0]).toMatchObject({ reason: { code: 'EIO' } })
    expect(f.data.subarray(2, 6).toString()).toBe('cdef')
    expect(f.maxInFlight).toBe(1)
  })
})

// Last: the thread it kills stays dead for this file's modules.
it('a slab thread that dies fails what it was given, and later work stays here', async () => {
  const hash = slabHash(WORKER_MIN_BYTES, 'sha256') as NonNullable<ReturnType<typeof slabHash>>
  const writes = slabWrites(WORKER_MIN_BYTES) as NonNullable<ReturnType<typeof slabWrites>>
  const spare = slabWrites(WORKER_MIN_BYTES) as NonNullable<ReturnType<typeof slabWrites>>
  await hash.digest()
  const chunk = slabOf(randomBytes(10))
  const { fh } = await tempFile('w')
  try {
    // A digest of a job already digested is a bug the thread dies of, before the work after it.
    const dying = hash.digest()
    const updated = hash.update(chunk)
    const written = writes.write(chunk, fh.fd, 0)
    // A writer that had not written yet finds no thread to go to, and says why.
    const unheld = Buffer.from(new SharedArrayBuffer(10))
    for (const p of [dying, updated, written, dying.catch(() => spare.write(unheld, fh.fd, 0))])
      expect(await caught(p)).toMatchObject({
        constructor: OciError,
        message: expect.stringMatching(/^the slab thread failed: no job \d+$/)
      })
    expect(createHasher('sha256', WORKER_MIN_BYTES).update(chunk)).toBeUndefined()
    expect(slabWrites(WORKER_MIN_BYTES)).toBeUndefined()
    expect(slabHash(WORKER_MIN_BYTES, 'sha256')).toBeUndefined()
  } finally {
    await fh.close()
    slabs.give(chunk)
  }
})
