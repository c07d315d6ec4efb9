import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { OciError } from '../errors/errors.js'
import type { FromSlabThread, SlabThreadData, ToSlabThread } from './messages.js'

/**
 * Work on slabs off the main thread. Large blobs are hashed, and written to files, on a worker
 * thread that reads the slabs where they lie (they are SharedArrayBuffers): on two cores the hash
 * runs beside the thread that moves the bytes, and a file gets its bytes in small synchronous
 * writes without a thread-pool round trip for each (docs/benchmark.md, "Measurements behind the
 * constants").
 */
export interface Hasher {
  /**
   * Hashes a chunk (a view of a pool slab), and writes it to `file` when given; the slab must
   * stay unchanged until this settles. Undefined when the work was done at once.
   */
  update(chunk: Buffer, file?: FileWrite): Promise<void> | undefined
  /** Whether update can write to files (else the caller writes). */
  readonly writes: boolean
  /** Writes a chunk to a file without hashing it (a last slab, written once checked). */
  write(chunk: Buffer, file: FileWrite): Promise<void>
  /** The hex digest, once every update is in. */
  digest(): Promise<string>
  /** Forgets the job (after a failure). */
  drop(): void
}

/** Where a chunk goes in a file: an open descriptor and a position. */
export interface FileWrite {
  fd: number
  position: number
}

/** A write the slab thread could not do: carries the OS error's code. */
export class FileWriteError extends Error {
  readonly code?: string
  constructor(message: string, code?: string) {
    super(message)
    this.name = 'FileWriteError'
    this.code = code
  }
}

export type Algorithm = 'sha256' | 'sha512'

/** Content at least this large goes to the worker; below, a message round trip costs more than it saves. */
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

export function createHasher(algorithm: Algorithm, size: number): Hasher {
  if (size >= WORKER_MIN_BYTES) {
    const worker = SlabThread.pick()
    if (worker) return worker.job(algorithm)
  }
  const hash = createHash(algorithm)
  return {
    writes: false,
    update(chunk) {
      hash.update(chunk)
      return undefined
    },
    write: () => Promise.reject(new OciError('internal: this hasher does not write files')),
    digest: () => Promise.resolve(hash.digest('hex')),
    drop: () => undefined
  }
}

interface Pending {
  resolve: (hex?: string) => void
  reject: (err: unknown) => void
}

/**
 * Slab threads, started on first use; a job goes to the one with the fewest jobs. A thread keeps
 * the process alive only while it has work: idle, it must not hold the process open; busy, the
 * process must wait for its answers.
 */
class SlabThread {
  static readonly #threads: SlabThread[] = []
  static #broken = false

  /** A thread for a new job, or undefined when none can run (then hashing stays on this thread). */
  static pick(): SlabThread | undefined {
    if (SlabThread.#broken) return undefined
    const threads = SlabThread.#threads
    const idle = threads.find((t) => t.#jobs === 0)
    if (idle) return idle
    if (threads.length < THREADS) {
      try {
        // A bundle copied without its slab-worker.js hashes on this thread instead.
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

  /** Jobs started and not yet digested or dropped. */
  #jobs = 0

  readonly #worker: Worker
  readonly #ids = new WeakMap<SharedArrayBuffer, number>()
  #nextSlab = 0
  #nextJob = 0
  /** Per job, its unsettled requests in order. */
  readonly #pending = new Map<number, Pending[]>()
  #outstanding = 0
  #failure?: Error

  private constructor() {
    const workerData: SlabThreadData = { piece: WRITE_PIECE }
    this.#worker = new Worker(WORKER_SCRIPT, { workerData })
    this.#worker.on('message', (m: FromSlabThread) => {
      const queue = this.#pending.get(m.job)
      const next = queue?.shift()
      if (queue && !queue.length) this.#pending.delete(m.job)
      if (next && --this.#outstanding === 0) this.#worker.unref()
      if (m.op === 'done' && m.error)
        next?.reject(new FileWriteError(m.error.message, m.error.code))
      else next?.resolve(m.op === 'digest' ? m.hex : undefined)
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

  #post(m: ToSlabThread): void {
    this.#worker.postMessage(m)
  }

  #expect(job: number): Promise<string | undefined> {
    if (this.#failure) return Promise.reject(this.#failure)
    if (this.#outstanding++ === 0) this.#worker.ref()
    return new Promise((resolve, reject) => {
      const queue = this.#pending.get(job) ?? []
      queue.push({ resolve, reject })
      this.#pending.set(job, queue)
    })
  }

  #slabId(sab: SharedArrayBuffer): number {
    let id = this.#ids.get(sab)
    if (id === undefined) {
      id = this.#nextSlab++
      this.#ids.set(sab, id)
      this.#post({ op: 'slab', id, sab })
    }
    return id
  }

  #send(op: 'update' | 'write', job: number, chunk: Buffer, file?: FileWrite): Promise<void> {
    if (!(chunk.buffer instanceof SharedArrayBuffer))
      return Promise.reject(
        new OciError('internal: a chunk for the slab thread is not a pool slab')
      )
    const done = this.#expect(job)
    this.#post({
      op,
      job,
      slab: this.#slabId(chunk.buffer),
      off: chunk.byteOffset,
      len: chunk.length,
      fd: file?.fd,
      pos: file?.position
    })
    return done.then(() => undefined)
  }

  job(algorithm: Algorithm): Hasher {
    const job = this.#nextJob++
    this.#jobs++
    let open = true
    const end = (): void => {
      if (open) this.#jobs--
      open = false
    }
    this.#post({ op: 'start', job, alg: algorithm })
    return {
      writes: true,
      update: (chunk, file) => this.#send('update', job, chunk, file),
      write: (chunk, file) => this.#send('write', job, chunk, file),
      digest: async () => {
        const hex = this.#expect(job)
        this.#post({ op: 'digest', job })
        end()
        return (await hex) as string
      },
      drop: () => {
        end()
        this.#post({ op: 'drop', job })
      }
    }
  }
}
