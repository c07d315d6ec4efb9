/** The messages between the slab threads (slab-worker.js) and the thread that runs them (thread.ts). */

/** To a slab thread. Jobs are answered in the order they were asked. */
export type ToSlabThread =
  /** A pool slab, shared once; later messages name it by id. */
  | { op: 'slab'; id: number; sab: SharedArrayBuffer }
  | { op: 'start'; job: number; alg: string }
  | { op: 'drop'; job: number }
  | { op: 'digest'; job: number }
  /** Hash bytes [off, off + len) of a slab (update), write them (with fd), or both. */
  | {
      op: 'update' | 'write'
      job: number
      slab: number
      off: number
      len: number
      fd?: number
      pos?: number
    }

/** From a slab thread: a slab's work done (or its write failed), or a job's digest. */
export type FromSlabThread =
  | { op: 'done'; job: number; error?: { message: string; code?: string } }
  | { op: 'digest'; job: number; hex: string }

/** What a slab thread is started with. */
export interface SlabThreadData {
  /** Bytes per write call (see WRITE_PIECE). */
  piece: number
}
