// A blob read from a byte range of a file (a layout's blob, a tar member) through the cursor, in
// process: a large one is read on the slab thread that hashes it, in one message per 1 MiB slab
// and never through this thread's reads, byte for byte from the range's start; content that does not
// match its digest still never has its last slab lent; a read that fails there is a LayoutError
// naming the file and the OS code; a small one is read and hashed here.
import { createHash, randomBytes } from 'node:crypto'
import { open, writeFile, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { jest } from '@jest/globals'
import { BlobCursor, readerSource } from '../content/blob-cursor.js'
import { DigestMismatchError, LayoutError } from '../errors/errors.js'
import type { ToSlabThread } from '../slabs/messages.js'
import { READ_SLAB_SIZE } from '../slabs/pool.js'
import { WORKER_MIN_BYTES } from '../slabs/thread.js'
import { rangeReader } from './files.js'
import { tmpDir } from '../../__tests__/helpers/skopeo.js'
import { caught } from '../../__tests__/helpers/settle.js'

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`
const OFFSET = 512

/** A file holding `data` after OFFSET bytes of something else, open for reading. */
async function fileWith(data: Buffer): Promise<FileHandle> {
  const file = path.join(await tmpDir('range-'), 'blob')
  await writeFile(file, Buffer.concat([Buffer.alloc(OFFSET, 0xee), data]))
  return open(file, 'r')
}

/** Pumps a cursor over the range into a buffer, counting this thread's reads and the messages to slab threads. */
async function pumpRange(
  fh: FileHandle,
  size: number,
  digest: string
): Promise<{ got: Buffer; failure?: unknown; reads: number; ops: string[]; largest: number }> {
  const reads = jest.spyOn(fh, 'read')
  const posted = jest.spyOn(Worker.prototype, 'postMessage')
  const cursor = new BlobCursor(
    readerSource(rangeReader(fh, OFFSET, size, 'file X')),
    { digest, size },
    'blob X'
  )
  const got: Buffer[] = []
  let largest = 0
  const failure = await caught(
    cursor.pump(async (c) => {
      largest = Math.max(largest, c.length)
      got.push(Buffer.from(c))
    })
  )
  await cursor.close()
  const ops = posted.mock.calls.flatMap(([batch]) => (batch as ToSlabThread[]).map((m) => m.op))
  return { got: Buffer.concat(got), failure, reads: reads.mock.calls.length, ops, largest }
}

afterEach(() => jest.restoreAllMocks())

describe('a file range read through the cursor', () => {
  it('is read on the slab thread that hashes it, one message a slab, byte for byte', async () => {
    const data = randomBytes(WORKER_MIN_BYTES + 1000)
    const fh = await fileWith(data)
    const r = await pumpRange(fh, data.length, digestOf(data))
    expect(r.failure).toBeUndefined()
    expect(r.got.equals(data)).toBe(true)
    expect(r.reads).toBe(0)
    expect(r.ops).toContain('read')
    expect(r.ops).not.toContain('update')
    expect(r.largest).toBe(READ_SLAB_SIZE)
  })

  it('never lends the last slab of content that does not match its digest', async () => {
    const data = randomBytes(WORKER_MIN_BYTES + 1000)
    const fh = await fileWith(data)
    const r = await pumpRange(fh, data.length, digestOf(randomBytes(10)))
    expect(r.failure).toBeInstanceOf(DigestMismatchError)
    expect(r.got.length).toBeLessThan(data.length)
    expect(r.ops).toContain('read')
  })

  it('fails as a LayoutError naming the file and the OS code when the read fails there', async () => {
    // A directory opens, and every read of it fails with EISDIR.
    const fh = await open(await tmpDir('range-dir-'), 'r')
    const r = await pumpRange(fh, WORKER_MIN_BYTES, digestOf(Buffer.alloc(0)))
    expect(r.failure).toBeInstanceOf(LayoutError)
    expect((r.failure as Error).message).toBe('file X: cannot be read (EISDIR)')
    expect(r.ops).toContain('read')
  })

  it('is read and hashed on this thread when small', async () => {
    const data = randomBytes(WORKER_MIN_BYTES - 1)
    const fh = await fileWith(data)
    const r = await pumpRange(fh, data.length, digestOf(data))
    expect(r.failure).toBeUndefined()
    expect(r.got.equals(data)).toBe(true)
    expect(r.reads).toBeGreaterThan(0)
    expect(r.ops).toEqual([])
    expect(r.largest).toBeLessThan(READ_SLAB_SIZE)
  })
})
