import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { OciError } from './errors.js'

/**
 * Digests of content as it moves. Large blobs are hashed on a worker thread, which reads the
 * slabs where they lie (they are SharedArrayBuffers): on two cores, sha256 (about 0.6 s per GiB)
 * then runs beside the thread that moves the bytes instead of inside it.
 */
export interface Hasher {
  /** Hashes a chunk (a view of a pool slab); the slab must stay unchanged until this settles. */
  update(chunk: Buffer): Promise<void> | undefined
  /** The hex digest, once every update is in. */
  digest(): Promise<string>
  /** Forgets the job (after a failure). */
  drop(): void
}

export type Algorithm = 'sha256' | 'sha512'

/** Content at least this large is hashed on the worker; below, a message round trip costs more than it saves. */
export const WORKER_MIN_BYTES = 4 * 1024 * 1024

export function createHasher(algorithm: Algorithm, size: number): Hasher {
  if (size >= WORKER_MIN_BYTES) {
    const worker = HashWorker.shared()
    if (worker) return worker.job(algorithm)
  }
  const hash = createHash(algorithm)
  return {
    update(chunk) {
      hash.update(chunk)
      return undefined
    },
    digest: () => Promise.resolve(hash.digest('hex')),
    drop: () => undefined
  }
}

// The worker's code, run as a CommonJS script: hashes slabs by id, in the order asked.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const slabs = new Map()
const jobs = new Map()
parentPort.on('message', (m) => {
  if (m.op === 'slab') slabs.set(m.id, Buffer.from(m.sab))
  else if (m.op === 'start') jobs.set(m.job, createHash(m.alg))
  else if (m.op === 'update') {
    const hash = jobs.get(m.job)
    if (hash) hash.update(slabs.get(m.slab).subarray(m.off, m.off + m.len))
    parentPort.postMessage({ op: 'done', job: m.job })
  } else if (m.op === 'digest') {
    const hash = jobs.get(m.job)
    jobs.delete(m.job)
    parentPort.postMessage({ op: 'digest', job: m.job, hex: hash.digest('hex') })
  } else if (m.op === 'drop') jobs.delete(m.job)
})
`

interface Pending {
  resolve: (hex?: string) => void
  reject: (err: unknown) => void
}

type WorkerMessage = { op: 'done'; job: number } | { op: 'digest'; job: number; hex: string }

/**
 * The one hashing thread, started on first use. It keeps the process alive only while it has
 * work: idle, it must not hold the process open; busy, the process must wait for its answers.
 */
class HashWorker {
  static #shared?: HashWorker
  static #broken = false

  /** The worker, or undefined when it cannot run (then hashing stays on this thread). */
  static shared(): HashWorker | undefined {
    if (HashWorker.#broken) return undefined
    try {
      HashWorker.#shared ??= new HashWorker()
    } catch {
      HashWorker.#broken = true
      return undefined
    }
    return HashWorker.#shared
  }

  readonly #worker: Worker
  readonly #ids = new WeakMap<SharedArrayBuffer, number>()
  #nextSlab = 0
  #nextJob = 0
  /** Per job, its unsettled updates in order, then its digest request. */
  readonly #pending = new Map<number, Pending[]>()
  #outstanding = 0
  #failure?: Error

  private constructor() {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true })
    this.#worker.on('message', (m: WorkerMessage) => {
      const queue = this.#pending.get(m.job)
      const next = queue?.shift()
      if (queue && !queue.length) this.#pending.delete(m.job)
      if (next && --this.#outstanding === 0) this.#worker.unref()
      next?.resolve(m.op === 'digest' ? m.hex : undefined)
    })
    const fail = (err: Error): void => {
      this.#failure ??= new OciError(`the hashing thread failed: ${err.message}`, { cause: err })
      HashWorker.#broken = true
      HashWorker.#shared = undefined
      for (const queue of this.#pending.values()) for (const p of queue) p.reject(this.#failure)
      this.#pending.clear()
      this.#outstanding = 0
    }
    this.#worker.on('error', fail)
    this.#worker.on('exit', (code) => fail(new Error(`it exited with code ${code}`)))
    // After the listeners: adding a 'message' listener refs the worker again.
    this.#worker.unref()
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
      this.#worker.postMessage({ op: 'slab', id, sab })
    }
    return id
  }

  job(algorithm: Algorithm): Hasher {
    const job = this.#nextJob++
    this.#worker.postMessage({ op: 'start', job, alg: algorithm })
    return {
      update: (chunk) => {
        if (!(chunk.buffer instanceof SharedArrayBuffer))
          return Promise.reject(new OciError('internal: a chunk to hash is not a pool slab'))
        const done = this.#expect(job)
        this.#worker.postMessage({
          op: 'update',
          job,
          slab: this.#slabId(chunk.buffer),
          off: chunk.byteOffset,
          len: chunk.length
        })
        return done.then(() => undefined)
      },
      digest: async () => {
        const hex = this.#expect(job)
        this.#worker.postMessage({ op: 'digest', job })
        return (await hex) as string
      },
      drop: () => {
        this.#worker.postMessage({ op: 'drop', job })
      }
    }
  }
}
