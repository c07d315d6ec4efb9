import { OciError } from '../errors/errors.js'
import type { ChunkSink, ContentCursor } from './blob-cursor.js'
import type { BlobContent } from './sink.js'

// One read of a blob lent to several uploads at once (a push to several registries): the blob is
// opened, read and hashed once, and each slab goes to every upload before it goes back to the
// pool. Each upload is a lane with its own pace (one PUT, or PATCH chunks with a request and an
// answer between them); the read waits for the slowest lane, so memory stays at one transfer's
// slabs whatever the number of lanes.

/** The read found no lane left to lend to: it stops there. */
class Abandoned extends Error {}

/** A slab (or what is left of it) waiting for its lane; back once every part lent from it is. */
interface Piece {
  rest: Buffer
  /** Parts lent to the lane's sink and not back yet. */
  lent: number
  /** The lane left: the rest is not wanted. */
  dropped: boolean
  done: () => void
}

/** A pump of a lane: bytes up to `end` go to `sink`. */
interface Request {
  sink: ChunkSink
  end: number
  pending: number
  failure?: { err: unknown }
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * A blob read once for several pushes: `lane(i)` is the content the i-th push reads, and
 * `release(i)` says that push settled. The read starts once every lane has opened from byte 0 or
 * been released (a push that mounted the blob, found it, or failed before reading never opens).
 * A lane that opens later, or from another byte (a retry, a resumed upload), reads on its own.
 */
export class SharedContent {
  readonly #content: BlobContent
  readonly #lanes: Lane[]
  #started = false

  constructor(content: BlobContent, lanes: number) {
    this.#content = content
    this.#lanes = Array.from({ length: lanes }, () => new Lane(content))
  }

  /** The content the i-th push reads. */
  lane(i: number): BlobContent {
    return { size: this.#content.size, open: (start = 0) => this.#open(i, start) }
  }

  /** The i-th push settled: the read no longer waits for it, nor lends to it. */
  release(i: number): void {
    this.#lanes[i].leave()
    this.#maybeStart()
  }

  async #open(i: number, start: number): Promise<ContentCursor> {
    const lane = this.#lanes[i]
    // Empty content has no slab to check before; a read of its own checks it.
    if (lane.state !== 'waiting' || this.#started || start > 0 || this.#content.size === 0) {
      if (lane.state === 'waiting') {
        lane.leave()
        this.#maybeStart()
      }
      return this.#content.open(start)
    }
    lane.state = 'attached'
    this.#maybeStart()
    return lane
  }

  #maybeStart(): void {
    if (this.#started || this.#lanes.some((l) => l.state === 'waiting')) return
    this.#started = true
    if (this.#lanes.some((l) => l.state === 'attached')) void this.#drive()
  }

  async #drive(): Promise<void> {
    let cursor: ContentCursor | undefined
    try {
      cursor = await this.#content.open(0)
      await cursor.pump((chunk) => this.#lend(chunk))
    } catch (err) {
      if (!(err instanceof Abandoned)) for (const lane of this.#lanes) lane.fail(err)
    } finally {
      // Every lane has what it was lent by now: a reader that fails to close changes none of it.
      await cursor?.close().catch(() => undefined)
    }
  }

  /** A slab to every lane still reading; back once each is done with it. */
  #lend(chunk: Buffer): Promise<void> {
    const live = this.#lanes.filter((l) => l.state === 'attached')
    if (live.length === 0) return Promise.reject(new Abandoned())
    return Promise.all(live.map((l) => l.take(chunk))).then(() => undefined)
  }
}

/**
 * One push's view of the shared read. Slabs arrive from the read in order and wait until the
 * push pumps; a slab that straddles the end of a pump goes partly now, the rest in the next.
 * Once off the shared read (its request failed, it was pumped anew before the last pump was
 * done, or it was released), a lane that is pumped again reads on its own from where it is.
 */
class Lane implements ContentCursor {
  state: 'waiting' | 'attached' | 'gone' = 'waiting'
  readonly #content: BlobContent
  #pos = 0
  readonly #queue: Piece[] = []
  #request?: Request
  /** The shared read failed (the content does not match, or could not be read). */
  #failure?: { err: unknown }
  #own?: ContentCursor

  constructor(content: BlobContent) {
    this.#content = content
  }

  get position(): number {
    return this.#own?.position ?? this.#pos
  }

  /** A slab from the read; resolves once this lane is done with it. */
  take(chunk: Buffer): Promise<void> {
    if (this.state !== 'attached') return Promise.resolve()
    return new Promise((done) => {
      this.#queue.push({ rest: chunk, lent: 0, dropped: false, done })
      this.#flow()
    })
  }

  async pump(sink: ChunkSink, length?: number): Promise<void> {
    if (this.#failure) throw this.#failure.err
    if (this.state === 'attached' && !this.#request) {
      const end = Math.min(this.#content.size, this.#pos + (length ?? this.#content.size))
      return new Promise((resolve, reject) => {
        this.#request = { sink, end, pending: 0, resolve, reject }
        this.#flow()
      })
    }
    // Pumped anew while the last pump waits (its request gave up on it): off the shared read.
    this.leave()
    this.#own ??= await this.#content.open(this.#pos)
    return this.#own.pump(sink, length)
  }

  /** Lends what has arrived to the current pump, up to its end. */
  #flow(): void {
    const r = this.#request
    while (r && !r.failure && this.state === 'attached' && this.#pos < r.end) {
      const piece = this.#queue[0]
      if (!piece) break
      const part = piece.rest.subarray(0, r.end - this.#pos)
      piece.rest = piece.rest.subarray(part.length)
      if (piece.rest.length === 0) this.#queue.shift()
      this.#pos += part.length
      piece.lent++
      r.pending++
      let sent: Promise<void>
      try {
        sent = r.sink(part)
      } catch (err) {
        sent = Promise.reject(err)
      }
      void sent
        .then(
          () => undefined,
          (err: unknown) => {
            r.failure ??= { err }
          }
        )
        .then(() => {
          r.pending--
          piece.lent--
          giveBack(piece)
          this.#settle()
        })
    }
    this.#settle()
  }

  /** Ends the current pump once all it lent is back: done, failed (the lane leaves), or left. */
  #settle(): void {
    const r = this.#request
    if (!r || r.pending > 0) return
    const failure = r.failure ?? this.#failure
    if (failure) {
      this.#request = undefined
      // Its request failed: the others go on without it.
      this.leave()
      r.reject(failure.err)
    } else if (this.#pos === r.end) {
      this.#request = undefined
      r.resolve()
    } else if (this.state !== 'attached') {
      this.#request = undefined
      r.reject(new OciError('the upload was closed before its body was sent'))
    }
  }

  /** Off the shared read: nothing more is lent to it, and what waits for it is given back. */
  leave(): void {
    if (this.state === 'gone') return
    this.state = 'gone'
    for (const piece of this.#queue.splice(0)) {
      piece.dropped = true
      giveBack(piece)
    }
    this.#settle()
  }

  /** The shared read failed: so does every pump of this lane, now or later. */
  fail(err: unknown): void {
    if (this.state !== 'attached') return
    this.#failure ??= { err }
    this.#settle()
  }

  async close(): Promise<void> {
    this.leave()
    await this.#own?.close()
  }
}

function giveBack(piece: Piece): void {
  if (piece.lent === 0 && (piece.dropped || piece.rest.length === 0)) piece.done()
}
