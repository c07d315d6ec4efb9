import type { Readable } from 'node:stream'
import { parseDigest } from '../oci/digest.js'
import { DigestMismatchError, OciError, SizeMismatchError } from '../errors/errors.js'
import { createHasher, type Hasher } from '../slabs/hasher.js'
import { giveSlab, readSlabs, slabs, SLABS_PER_TRANSFER, type SlabPool } from '../slabs/pool.js'

/**
 * Takes a chunk of a blob. The chunk is lent: the sink may hold it (queued on a socket, being
 * written to a file) until the promise settles, and must not touch it after.
 */
export type ChunkSink = (chunk: Buffer) => Promise<void>

/**
 * What a push reads a blob through: a BlobCursor, or one lane of a read shared by several pushes
 * (shared-content.ts). Bytes are lent in order from `position` on.
 */
export interface ContentCursor {
  /** Bytes lent (or passed over) so far, from the start of the content. */
  readonly position: number
  /** Lends the next `length` bytes (default: the rest) to `sink`; resolves once all are back. */
  pump(sink: ChunkSink, length?: number): Promise<void>
  close(): Promise<void>
}

/**
 * A read done elsewhere: up to `into.length` bytes of open file `fd` at `position` (a slab
 * thread's, which hashes what it reads: Hasher.readInto); resolves to the count read.
 */
export type FileRead = (fd: number, position: number, into: Buffer) => Promise<number>

/** Random access to stored bytes (a layout file, a tar member), read into the caller's buffers. */
export interface BlobReader {
  readonly size: number
  /** Reads up to `buf.length` bytes at `position`; resolves to the count, 0 past the end. */
  read(buf: Buffer, position: number): Promise<number>
  /**
   * Reads as `read` does, failing as it does, but through `via`, given the open file and the
   * position in it. Readers of a byte range of a plain file have it.
   */
  readVia?(via: FileRead, buf: Buffer, position: number): Promise<number>
  close(): Promise<void>
}

/** A blob's bytes front to back, in slabs of the pool. */
export interface ChunkSource {
  /**
   * The next 1 to `max` bytes (at most a slab) in a slab of the pool, which the caller gives
   * back; undefined at the end of the source.
   */
  next(max: number): Promise<Buffer | undefined>
  /** As `next`, the bytes read through `via` (see BlobReader.readVia); only sources that can. */
  nextVia?(max: number, via: FileRead): Promise<Buffer | undefined>
  /** After the expected last byte: 0 when the source ends there, else some of the bytes it has beyond. */
  rest(): Promise<number>
  close(): Promise<void>
}

/**
 * A slab of `pool` filled by `fill` with up to `max` bytes, cut to what it got; undefined (the
 * slab given back) when it got nothing. The slab goes back on failure too.
 */
async function filledSlab(
  max: number,
  fill: (slab: Buffer, want: number) => Promise<number>,
  pool: SlabPool = slabs
): Promise<Buffer | undefined> {
  const slab = pool.take()
  let got: number
  try {
    got = await fill(slab, Math.min(max, slab.length))
  } catch (err) {
    giveSlab(slab)
    throw err
  }
  if (got === 0) {
    giveSlab(slab)
    return undefined
  }
  return slab.subarray(0, got)
}

/** Reads a stored blob slab by slab. */
export function readerSource(reader: BlobReader): ChunkSource {
  let pos = 0
  const fill =
    (read: (buf: Buffer, position: number) => Promise<number>) =>
    async (slab: Buffer, want: number): Promise<number> => {
      let got = 0
      // A read may return less than asked: keep going until full or at the end.
      while (got < want) {
        const n = await read(slab.subarray(got, want), pos)
        if (n === 0) break
        got += n
        pos += n
      }
      return got
    }
  const source: ChunkSource = {
    next: (max) =>
      filledSlab(
        max,
        fill((buf, at) => reader.read(buf, at))
      ),
    rest: async () => 0,
    close: () => reader.close()
  }
  const { readVia } = reader
  if (readVia)
    source.nextVia = (max, via) =>
      filledSlab(
        max,
        fill((buf, at) => readVia(via, buf, at)),
        readSlabs
      )
  return source
}

/** Bytes already in memory (a manifest read earlier) as a source, slab by slab. */
export function bufferSource(bytes: Buffer): ChunkSource {
  return readerSource({
    size: bytes.length,
    read: async (buf, position) => bytes.copy(buf, 0, position),
    close: async () => undefined
  })
}

/**
 * Copies a stream's chunks into slabs as they arrive, pausing the stream while nobody waits, so
 * the stream's own chunks die young.
 */
export class StreamSource implements ChunkSource {
  readonly #stream: Readable
  #rest?: Buffer
  #ended = false
  #error?: unknown
  #want?: {
    slab: Buffer
    max: number
    got: number
    resolve: (n: number) => void
    reject: (e: unknown) => void
  }

  constructor(stream: Readable) {
    this.#stream = stream
    stream.on('data', (chunk: Buffer) => this.#onData(chunk))
    stream.on('end', () => {
      this.#ended = true
      this.#settle()
    })
    stream.on('error', (err) => {
      this.#error ??= err
      this.#settle()
    })
    stream.on('close', () => {
      if (!this.#ended)
        this.#error ??= Object.assign(new Error('the stream closed before its end'), {
          code: 'ERR_STREAM_PREMATURE_CLOSE'
        })
      this.#settle()
    })
    stream.pause()
  }

  next(max: number): Promise<Buffer | undefined> {
    return filledSlab(max, (slab, want) => this.#fill(slab, want))
  }

  #fill(slab: Buffer, max: number): Promise<number> {
    let got = 0
    if (this.#rest) {
      got = this.#rest.copy(slab, 0, 0, max)
      this.#rest = got < this.#rest.length ? this.#rest.subarray(got) : undefined
    }
    if (got === max || this.#ended) return Promise.resolve(got)
    // What arrived before a fault is passed on first, so a download that resumes asks for less.
    if (this.#error !== undefined)
      return got > 0 ? Promise.resolve(got) : Promise.reject(this.#error)
    return new Promise((resolve, reject) => {
      this.#want = { slab, max, got, resolve, reject }
      this.#stream.resume()
    })
  }

  #onData(chunk: Buffer): void {
    const want = this.#want
    if (!want) {
      // Data after a pause (a stream may emit what it already holds): keep it for the next fill.
      this.#rest = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk
      this.#stream.pause()
      return
    }
    const n = chunk.copy(want.slab, want.got, 0, want.max - want.got)
    want.got += n
    if (n < chunk.length) this.#rest = chunk.subarray(n)
    if (want.got === want.max) {
      this.#want = undefined
      this.#stream.pause()
      want.resolve(want.got)
    }
  }

  #settle(): void {
    const want = this.#want
    if (!want) return
    this.#want = undefined
    if (this.#ended || want.got > 0) want.resolve(want.got)
    else want.reject(this.#error)
  }

  async rest(): Promise<number> {
    // One more chunk tells enough: the source runs long.
    const chunk = await this.next(Number.MAX_SAFE_INTEGER)
    if (!chunk) return 0
    giveSlab(chunk)
    return chunk.length
  }

  async close(): Promise<void> {
    if (!this.#ended) this.#stream.destroy()
  }
}

/**
 * Reads a blob front to back in pooled slabs, hashing each as it goes, and lends the slabs to
 * sinks. The digest and size are checked before the last slab is lent, so a sink never receives
 * the end of content that does not match its descriptor. Up to SLABS_PER_TRANSFER slabs are out
 * at once: one being filled while the others are with the sink.
 */
export class BlobCursor implements ContentCursor {
  readonly #source: ChunkSource
  readonly #expected: { digest: string; size: number }
  readonly #what: string
  readonly #hint?: string
  readonly #hasher: Hasher
  /** The next slab, read on the hasher's thread, which hashes as it reads (when both can). */
  readonly #nextHashed?: (max: number) => Promise<Buffer | undefined>
  readonly #onProgress?: (bytes: number) => void
  #pos = 0
  #verified = false

  constructor(
    source: ChunkSource,
    expected: { digest: string; size: number },
    what: string,
    onProgress?: (bytes: number) => void,
    /** What to do when the bytes contradict the descriptor (depends on where they came from). */
    mismatchHint?: string
  ) {
    this.#hint = mismatchHint
    this.#source = source
    this.#expected = expected
    this.#what = what
    this.#hasher = createHasher(parseDigest(expected.digest).algorithm, expected.size)
    const { readInto } = this.#hasher
    const { nextVia } = source
    if (readInto && nextVia) this.#nextHashed = (max) => nextVia(max, readInto)
    this.#onProgress = onProgress
  }

  /** Bytes read (and hashed) so far. */
  get position(): number {
    return this.#pos
  }

  /** Reads and hashes the next `length` bytes without lending them (a resumed upload's start). */
  skip(length: number): Promise<void> {
    return this.#run(undefined, length)
  }

  /** Lends the next `length` bytes (default: the rest) to `sink`; resolves once all are back. */
  pump(sink: ChunkSink, length = this.#expected.size - this.#pos): Promise<void> {
    return this.#run(sink, length)
  }

  async #run(sink: ChunkSink | undefined, length: number): Promise<void> {
    const { size } = this.#expected
    const end = Math.min(size, this.#pos + length)
    const lent = new Set<Promise<void>>()
    let failure: { err: unknown } | undefined
    // Empty content has no last slab to check before; check it now.
    if (size === 0 && !this.#verified) await this.#finish()
    try {
      while (this.#pos < end) {
        while (lent.size >= SLABS_PER_TRANSFER - 1) await Promise.race(lent)
        if (failure) throw failure.err
        const nextHashed = this.#nextHashed
        const chunk = await (nextHashed ?? ((max) => this.#source.next(max)))(end - this.#pos)
        if (!chunk) throw new SizeMismatchError(size, this.#pos, this.#what, this.#hint)
        this.#pos += chunk.length
        const hashed = nextHashed ? undefined : this.#hasher.update(chunk)
        // The last slab is lent only once the digest is checked.
        if (this.#pos === size) {
          try {
            await hashed
            await this.#finish()
          } catch (err) {
            giveSlab(chunk)
            throw err
          }
        }
        this.#onProgress?.(this.#pos)
        const sent = sink?.(chunk)
        // The slab goes back once the hasher and the sink are done with it.
        const p: Promise<void> = Promise.allSettled([hashed, sent]).then(([h, s]) => {
          lent.delete(p)
          giveSlab(chunk)
          const rejected = [h, s].find((r) => r.status === 'rejected')
          if (rejected) failure ??= { err: rejected.reason }
        })
        lent.add(p)
      }
      while (lent.size) await Promise.race(lent)
      if (failure) throw failure.err
    } catch (err) {
      // Every slab must be back before the caller goes on (and perhaps closes what they are lent to).
      while (lent.size) await Promise.race(lent)
      throw err
    }
  }

  async #finish(): Promise<void> {
    const { digest, size } = this.#expected
    const extra = await this.#source.rest()
    // At least this many: the source was not read further.
    if (extra > 0) throw new SizeMismatchError(size, size + extra, this.#what, this.#hint)
    const actual = `${parseDigest(digest).algorithm}:${await this.#hasher.digest()}`
    if (actual !== digest) throw new DigestMismatchError(digest, actual, this.#what, this.#hint)
    this.#verified = true
  }

  close(): Promise<void> {
    if (!this.#verified) this.#hasher.drop()
    return this.#source.close()
  }
}

/** Reads whole content into one buffer (manifests, small blobs, in-memory stores). */
export async function readCursor(
  cursor: ContentCursor,
  size: number,
  limit: number,
  what: string
): Promise<Buffer> {
  if (size > limit) throw new OciError(`${what} is larger than ${limit} bytes`)
  const out = Buffer.allocUnsafe(size)
  let at = 0
  try {
    await cursor.pump(async (chunk) => {
      at += chunk.copy(out, at)
    })
  } finally {
    await cursor.close()
  }
  return out
}
