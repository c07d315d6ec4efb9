// Several sinks as one, in-process: each member asked at once and sent only what it lacks, a blob
// read once for all, a failure thrown only once every member has settled.
import { MemoryStore } from '../../__tests__/helpers/memory-store.js'
import { BlobCursor, bufferSource } from '../content/blob-cursor.js'
import type { BlobContent, Content, PushOutcome } from '../content/sink.js'
import { digestOf } from '../oci/digest.js'
import type { Descriptor } from '../oci/types.js'
import { FanOutSink } from './fan-out.js'

const blob = (text: string): { desc: Descriptor; bytes: Buffer } => {
  const bytes = Buffer.from(text.repeat(50_000))
  return {
    desc: { mediaType: 'application/octet-stream', digest: digestOf(bytes), size: bytes.length },
    bytes
  }
}

/** Content over bytes that counts its opens. */
function content(desc: Descriptor, bytes: Buffer): BlobContent & { opens: number } {
  const c = {
    size: bytes.length,
    opens: 0,
    open: async (start = 0) => {
      c.opens++
      const cursor = new BlobCursor(bufferSource(bytes), desc, 'blob')
      if (start) await cursor.skip(start)
      return cursor
    }
  }
  return c
}

/** A member whose pushes fail at once. */
class Refusing extends MemoryStore {
  override async push(_desc: Descriptor, _content: Content): Promise<PushOutcome> {
    throw new Error(`${this.name} refused it`)
  }
}

describe('FanOutSink', () => {
  it('sends each member only what it lacks, reading the blob once', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new MemoryStore(n))
    const { desc, bytes } = blob('layer')
    b.blobs.set(desc.digest, bytes)
    const fan = new FanOutSink([a, b, c])
    expect(await fan.exists(desc)).toBe(false)
    const src = content(desc, bytes)
    expect(await fan.push(desc, src)).toBe('uploaded')
    expect(src.opens).toBe(1)
    for (const m of [a, c]) expect(m.blobs.get(desc.digest)?.equals(bytes)).toBe(true)
    expect(b.journal).toEqual([])
    expect([a, b, c].map((m) => fan.outcome(m, desc.digest))).toEqual([
      'uploaded',
      'exists',
      'uploaded'
    ])
    expect([a, b, c].map((m) => fan.bytesSent(m))).toEqual([desc.size, 0, desc.size])
    // Now all hold it.
    expect(await fan.exists(desc)).toBe(true)
  })

  it('what every member is known to lack is not asked about', async () => {
    const [a, b] = ['a', 'b'].map((n) => new MemoryStore(n))
    const { desc, bytes } = blob('root')
    a.blobs.set(desc.digest, bytes) // the caller knows better: it asked already
    const fan = new FanOutSink([a, b], [desc])
    expect(await fan.exists(desc)).toBe(false)
    const none = new FanOutSink([], [desc])
    expect(await none.exists(desc)).toBe(true)
  })

  it('a member that fails: the others finish, then its error is thrown', async () => {
    const a = new MemoryStore('a')
    const bad = new Refusing('bad')
    const { desc, bytes } = blob('x')
    const fan = new FanOutSink([bad, a])
    expect(await fan.exists(desc)).toBe(false)
    await expect(fan.push(desc, content(desc, bytes))).rejects.toThrow('bad refused it')
    expect(a.blobs.get(desc.digest)?.equals(bytes)).toBe(true)
    expect(fan.bytesSent(a)).toBe(desc.size)
    expect(fan.bytesSent(bad)).toBe(0)
  })
})
