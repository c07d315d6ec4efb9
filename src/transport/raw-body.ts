import { Readable } from 'node:stream'
import type { ChunkSource } from '../content/blob-cursor.js'
import { giveSlab, slabs } from '../slabs/pool.js'
import { netError } from './http-head.js'

/** Slabs a connection may hold filled before the reader takes them. */
const READ_AHEAD = 2

/** What a body needs of the connection it arrives on. */
export interface BodyConnection {
  /** Reading may go on (a slab was taken). */
  resume(): void
  /** The body is abandoned: the connection goes with it. */
  close(): void
}

/**
 * An answer's body as slabs. The connection reads into the slab being landed; up to READ_AHEAD
 * filled slabs wait for the reader, then the connection pauses until one is taken.
 */
export class RawBody implements ChunkSource {
  readonly #conn: BodyConnection
  readonly reusable: boolean
  #remaining: number
  #landing?: Buffer
  #landedBytes = 0
  readonly #ready: Buffer[] = []
  #error?: unknown
  #waiter?: { max: number; resolve: (b: Buffer | undefined) => void; reject: (e: unknown) => void }
  #paused = false
  #stream?: Readable
  readonly #completed: Promise<void>
  #markComplete!: () => void
  #markFailed!: (err: unknown) => void

  constructor(conn: BodyConnection, length: number, reusable: boolean) {
    this.#conn = conn
    this.#remaining = length
    this.reusable = reusable
    this.#completed = new Promise<void>((resolve, reject) => {
      this.#markComplete = resolve
      this.#markFailed = reject
    })
    this.#completed.catch(() => undefined)
    if (length === 0) this.#markComplete()
  }

  /** Settles once every byte is off the socket (its connection is free again), or on failure. */
  whenComplete(): Promise<void> {
    return this.#completed
  }

  /** Every byte of the body has been read off the socket. */
  get complete(): boolean {
    return this.#remaining === 0
  }

  /** As many slabs are filled as may wait: reading pauses. */
  get full(): boolean {
    return this.#ready.length >= READ_AHEAD
  }

  /** Where the next socket read goes: the free part of the landing slab, bounded by the body. */
  landingRegion(): Buffer {
    this.#landing ??= slabs.take()
    const end = Math.min(this.#landing.length, this.#landedBytes + this.#remaining)
    return this.#landing.subarray(this.#landedBytes, end)
  }

  /** Takes `n` bytes just read into the landing region (or `initial` bytes read with the head). */
  landed(n: number, initial?: Buffer): boolean {
    if (initial?.length) {
      const take = Math.min(initial.length, this.#remaining)
      let at = 0
      while (at < take) {
        const region = this.landingRegion()
        const copied = initial.copy(region, 0, at, take)
        at += copied
        this.#advance(copied)
      }
    } else if (n > 0) {
      this.#advance(n)
    }
    if (this.full && !this.complete) {
      this.#paused = true
      return false
    }
    return true
  }

  #advance(n: number): void {
    this.#landedBytes += n
    this.#remaining -= n
    const landing = this.#landing as Buffer
    if (this.#remaining === 0 || this.#landedBytes === landing.length) {
      this.#ready.push(landing.subarray(0, this.#landedBytes))
      this.#landing = undefined
      this.#landedBytes = 0
    }
    if (this.#remaining === 0) this.#markComplete()
    this.#deliver()
  }

  #deliver(): void {
    const w = this.#waiter
    if (!w) return
    if (this.#ready.length) {
      this.#waiter = undefined
      w.resolve(this.#take(w.max))
    } else if (this.complete) {
      this.#waiter = undefined
      w.resolve(undefined)
    } else if (this.#error !== undefined) {
      this.#waiter = undefined
      w.reject(this.#error)
    }
  }

  #take(max: number): Buffer {
    let chunk = this.#ready.shift() as Buffer
    if (chunk.length > max) {
      // Asked for less than a slab holds: the rest goes into a slab of its own, ahead of the queue.
      const rest = slabs.take()
      chunk.copy(rest, 0, max)
      this.#ready.unshift(rest.subarray(0, chunk.length - max))
      chunk = chunk.subarray(0, max)
    }
    if (this.#paused && !this.full) {
      this.#paused = false
      this.#conn.resume()
    }
    return chunk
  }

  next(max: number): Promise<Buffer | undefined> {
    if (this.#ready.length) return Promise.resolve(this.#take(max))
    if (this.complete) return Promise.resolve(undefined)
    if (this.#error !== undefined) return Promise.reject(this.#error)
    return new Promise((resolve, reject) => {
      this.#waiter = { max, resolve, reject }
      if (this.#paused) {
        this.#paused = false
        this.#conn.resume()
      }
    })
  }

  async rest(): Promise<number> {
    const chunk = await this.next(Infinity)
    if (!chunk) return 0
    giveSlab(chunk)
    return chunk.length
  }

  fail(err: unknown): void {
    if (this.complete) return
    this.#error ??= err
    this.#markFailed(err)
    if (this.#landing) giveSlab(this.#landing)
    this.#landing = undefined
    this.#deliver()
  }

  /** Drops what is unread; a body not read to its end takes its connection with it. */
  async close(): Promise<void> {
    for (const chunk of this.#ready.splice(0)) giveSlab(chunk)
    if (!this.complete) {
      this.fail(netError('the body was not read to its end'))
      this.#conn.close()
    }
  }

  /** The body as a stream (an error answer's text, a redirect's body to drain). */
  get stream(): Readable {
    this.#stream ??= Readable.from(this.#copies(), { objectMode: false })
    return this.#stream
  }

  async *#copies(): AsyncGenerator<Buffer> {
    try {
      for (let chunk = await this.next(Infinity); chunk; chunk = await this.next(Infinity)) {
        const copy = Buffer.from(chunk)
        giveSlab(chunk)
        yield copy
      }
    } finally {
      await this.close()
    }
  }
}
