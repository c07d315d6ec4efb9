import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { OciError } from '../errors/errors.js'
import type { FromSlabThread, SlabThreadData, ToSlabThread } from './messages.js'

/**
 * Work on slabs off the main thread. Large blobs are hashed (hasher.ts), read from files while
 * being hashed (blob-cursor.ts), and written to files (file-writer.ts), on worker threads that
 * read the slabs where they lie (they are SharedArrayBuffers): on two cores the hash runs beside the thread that moves the bytes, and a
 * file gets its bytes in small synchronous writes without a thread-pool round trip for each
 * (docs/benchmark.md, "Measurements behind the constants").
 */

/** A bug: answers come back in the order asked, so this cannot happen. */
function unexpected(m: FromSlabThread, asked: string): OciError {
  return new OciError(`internal: the slab thread answered ${asked} with '${m.op}'`)
}

/** A read or write the slab thread could not do: carries the OS error's code. */
export class SlabFileError extends Error {
  readonly code?: string
  constructor(message: string, code?: string) {
    super(message)
    this.name = 'SlabFileError'
    this.code = code
  }
}

/** Content at least this large goes to a slab thread; below, a message round trip costs more than it saves. */
export const WORKER_MIN_BYTES = 4 * 1024 * 1024

/**
 * Bytes per write call: small writes take small page-cache folios, which a VM that gives freed
 * memory back to its host supplies far more cheaply than large ones (docs/benchmark.md).
 */
export const WRITE_PIECE = 32 * 1024

/** Beside this module in the sources, beside the bundles in dist/ (rollup.config.js puts it there). */
const WORKER_SCRIPT = new URL('./slab-worker.js', import.meta.url)

/** Slab threads: two keep both cores of a small runner busy beside the main thread. */
const THREADS = 2

/** Bytes [off, off + len) of the slab the thread knows by id `slab`. */
type SlabRange = { slab: number; off: number; len: number }

interface Pending {
  resolve: (answer: FromSlabThread) => void
  reject: (err: unknown) => void
}

/** A blob's hash on a slab thread. */
export interface SlabHash {
  /** Hashes a chunk (a view of a pool slab, unchanged until this settles). */
  update(chunk: Buffer): Promise<void>
  /**
   * Reads up to `into.length` bytes of file `fd` at `position` into `into` (a view of a pool
   * slab), stopping only at the file's end, and hashes them: the count read. A failure carries
   * the OS error's code.
   */
  readInto(fd: number, position: number, into: Buffer): Promise<number>
  /** The hex digest, once every update is in; ends the job. */
  digest(): Promise<string>
  /** Forgets the hash (after a failure). */
  drop(): void
}

/** A blob's writes into its file on the slab threads. */
export interface SlabWrites {
  /** Writes a chunk (a view of a pool slab, unchanged until this settles) at `position` of `fd`. */
  write(chunk: Buffer, fd: number, position: number): Promise<void>
}

/** A hash of `size` bytes on a slab thread, or undefined when it is small or no thread can run. */
export function slabHash(size: number, algorithm: string): SlabHash | undefined {
  return size >= WORKER_MIN_BYTES ? SlabThread.pick()?.hash(algorithm) : undefined
}

/**
 * Writes of `size` bytes on the slab threads, or undefined when they are small or no thread can
 * run. The writes go to the thread that was last given the first chunk's slab: the thread hashing
 * it, so that a slab's hash and write go out in one message and come back in one answer.
 */
export function slabWrites(size: number): SlabWrites | undefined {
  if (size < WORKER_MIN_BYTES || !SlabThread.usable()) return undefined
  let thread: SlabThread | undefined
  const job = SlabThread.newJob()
  return {
    write(chunk, fd, pos) {
      thread ??= SlabThread.holding(chunk) ?? SlabThread.pick()
      if (!thread) return Promise.reject(SlabThread.failure())
      return thread
        .slabWork(job, chunk, (at) => ({ op: 'write', job, ...at, fd, pos }))
        .then(() => undefined)
    }
  }
}

/**
 * Slab threads, started on first use; a hash goes to the one with the fewest hashes. A thread
 * keeps the process alive only while it has work: idle, it must not hold the process open;
 * busy, the process must wait for its answers.
 */
class SlabThread {
  static readonly #threads: SlabThread[] = []
  static #broken = false
  static #nextJob = 0
  /** The thread each slab was last given to. */
  static readonly #holder = new WeakMap<SharedArrayBuffer, SlabThread>()

  /** A thread for a new job, or undefined when none can run. */
  static pick(): SlabThread | undefined {
    if (SlabThread.#broken) return undefined
    const threads = SlabThread.#threads
    const idle = threads.find((t) => t.#jobs === 0)
    if (idle) return idle
    if (threads.length < THREADS) {
      try {
        // A bundle copied without its slab-worker.js does its slab work on this thread instead.
        if (!existsSync(fileURLToPath(WORKER_SCRIPT))) throw new Error('no slab-worker.js')
        threads.push(new SlabThread())
      } catch {
        SlabThread.#broken = true
        return undefined
      }
      return threads[threads.length - 1]
    }
    return threads.reduce((a, b) => (b.#jobs < a.#jobs ? b : a))
  }

  /** Whether slab work can go to a thread (starting the first if there is none yet). */
  static usable(): boolean {
    return SlabThread.#threads.length ? !SlabThread.#broken : SlabThread.pick() !== undefined
  }

  static newJob(): number {
    return SlabThread.#nextJob++
  }

  /** The thread a chunk's slab was last given to: for a chunk being hashed, the one hashing it. */
  static holding(chunk: Buffer): SlabThread | undefined {
    return chunk.buffer instanceof SharedArrayBuffer
      ? SlabThread.#holder.get(chunk.buffer)
      : undefined
  }

  /** Why no thread can run: the failure of one that died. */
  static failure(): Error {
    for (const t of SlabThread.#threads) if (t.#failure) return t.#failure
    return new OciError('internal: no slab thread')
  }

  /** Hashes started and not yet digested or dropped. */
  #jobs = 0

  readonly #worker: Worker
  readonly #ids = new WeakMap<SharedArrayBuffer, number>()
  #nextSlab = 0
  /** Per job, its unsettled requests in order. */
  readonly #pending = new Map<number, Pending[]>()
  #outstanding = 0
  #failure?: Error
  /** Messages of this turn, posted together at its end. */
  #outbox: ToSlabThread[] = []

  private constructor() {
    const workerData: SlabThreadData = { piece: WRITE_PIECE }
    this.#worker = new Worker(WORKER_SCRIPT, { workerData })
    this.#worker.on('message', (answers: FromSlabThread[]) => {
      for (const m of answers) this.#answer(m)
    })
    const fail = (err: Error): void => {
      this.#failure ??= new OciError(`the slab thread failed: ${err.message}`, { cause: err })
      SlabThread.#broken = true
      for (const queue of this.#pending.values()) for (const p of queue) p.reject(this.#failure)
      this.#pending.clear()
      this.#outstanding = 0
    }
    this.#worker.on('error', fail)
    this.#worker.on('exit', (code) => fail(new Error(`it exited with code ${code}`)))
    // After the listeners: adding a 'message' listener refs the worker again.
    this.#worker.unref()
  }

  #answer(m: FromSlabThread): void {
    const queue = this.#pending.get(m.job)
    const next = queue?.shift()
    if (queue && !queue.length) this.#pending.delete(m.job)
    if (next && --this.#outstanding === 0) this.#worker.unref()
    if (m.op === 'done' && m.error) next?.reject(new SlabFileError(m.error.message, m.error.code))
    else next?.resolve(m)
  }

  #post(m: ToSlabThread): void {
    if (this.#outbox.push(m) > 1) return
    queueMicrotask(() => {
      const batch = this.#outbox
      this.#outbox = []
      this.#worker.postMessage(batch)
    })
  }

  #expect(job: number): Promise<FromSlabThread> {
    if (this.#failure) return Promise.reject(this.#failure)
    if (this.#outstanding++ === 0) this.#worker.ref()
    return new Promise((resolve, reject) => {
      const queue = this.#pending.get(job) ?? []
      queue.push({ resolve, reject })
      this.#pending.set(job, queue)
    })
  }

  /** The id the thread knows a chunk's slab by (sharing the slab first), with the chunk's place in it. */
  #where(chunk: Buffer): SlabRange {
    const sab = chunk.buffer
    if (!(sab instanceof SharedArrayBuffer))
      throw new OciError('internal: a chunk for the slab thread is not a pool slab')
    let slab = this.#ids.get(sab)
    if (slab === undefined) {
      slab = this.#nextSlab++
      this.#ids.set(sab, slab)
      this.#post({ op: 'slab', id: slab, sab })
    }
    SlabThread.#holder.set(sab, this)
    return { slab, off: chunk.byteOffset, len: chunk.length }
  }

  /** Sends one slab's work; resolves to the thread's answer once it has done it. */
  slabWork(
    job: number,
    chunk: Buffer,
    message: (at: SlabRange) => ToSlabThread
  ): Promise<FromSlabThread> {
    let m: ToSlabThread
    try {
      m = message(this.#where(chunk))
    } catch (err) {
      return Promise.reject(err)
    }
    const done = this.#expect(job)
    this.#post(m)
    return done
  }

  hash(algorithm: string): SlabHash {
    const job = SlabThread.newJob()
    this.#jobs++
    let open = true
    const end = (): void => {
      if (open) this.#jobs--
      open = false
    }
    this.#post({ op: 'start', job, alg: algorithm })
    return {
      update: async (chunk) => {
        await this.slabWork(job, chunk, (at) => ({ op: 'update', job, ...at }))
      },
      readInto: async (fd, pos, into) => {
        const m = await this.slabWork(job, into, (at) => ({ op: 'read', job, ...at, fd, pos }))
        if (m.op !== 'done' || m.n === undefined) throw unexpected(m, 'a read')
        return m.n
      },
      digest: async () => {
        const answer = this.#expect(job)
        this.#post({ op: 'digest', job })
        end()
        const m = await answer
        if (m.op !== 'digest') throw unexpected(m, 'a digest')
        return m.hex
      },
      drop: () => {
        if (open) this.#post({ op: 'drop', job })
        end()
      }
    }
  }
}
