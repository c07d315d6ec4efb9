/** The messages between the slab threads (slab-worker.js) and the thread that runs them (thread.ts). */

/**
 * To a slab thread, posted in batches (the messages of one turn of the main thread together);
 * the answers to a batch come back in one batch, in the order asked.
 */
export type ToSlabThread =
  /** A pool slab, shared once; later messages name it by id. */
  | { op: 'slab'; id: number; sab: SharedArrayBuffer }
  /** A hash job; a writing job needs no start. */
  | { op: 'start'; job: number; alg: string }
  | { op: 'drop'; job: number }
  | { op: 'digest'; job: number }
  /** Hash bytes [off, off + len) of a slab into the job's hash. */
  | { op: 'update'; job: number; slab: number; off: number; len: number }
  /**
   * Read up to `len` bytes of file `fd` at `pos` into a slab at `off`, and hash what was read
   * into the job's hash: one hop for both, and the hash reads bytes still in this core's cache.
   */
  | { op: 'read'; job: number; slab: number; off: number; len: number; fd: number; pos: number }
  /** Write bytes [off, off + len) of a slab into file `fd` at `pos`. */
  | { op: 'write'; job: number; slab: number; off: number; len: number; fd: number; pos: number }

/**
 * From a slab thread, in batches: a slab's work done (with the bytes a read got), or failed with
 * the OS error; or a job's digest.
 */
export type FromSlabThread =
  | { op: 'done'; job: number; n?: number; error?: { message: string; code?: string } }
  | { op: 'digest'; job: number; hex: string }

/** What a slab thread is started with. */
export interface SlabThreadData {
  /** Bytes per write call (see WRITE_PIECE). */
  piece: number
}
