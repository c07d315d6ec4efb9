/**
 * Fixed-size buffers that blob transfers fill, hand on and get back, instead of a new buffer per
 * chunk. A GiB moved through fresh buffers leaves a GiB of backing stores, and V8 counts them
 * against the old generation's limit: with this program's small heap that means a full marking
 * of the heap every few MiB. Through slabs, a transfer allocates nothing per chunk. Slabs are
 * SharedArrayBuffers, so the hashing thread reads them where they are.
 */
export class SlabPool {
  readonly slabSize: number
  readonly #free: SharedArrayBuffer[] = []
  readonly #keep: number

  /** @param keep how many free slabs to hold on to; more than that are left to the GC */
  constructor(slabSize: number, keep: number) {
    this.slabSize = slabSize
    this.#keep = keep
  }

  take(): Buffer {
    return Buffer.from(this.#free.pop() ?? new SharedArrayBuffer(this.slabSize))
  }

  /** Takes back a slab, or any view of one; other buffers are ignored. */
  give(chunk: Buffer): void {
    const sab = chunk.buffer
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength !== this.slabSize) return
    if (this.#free.length < this.#keep) this.#free.push(sab)
  }
}

/**
 * 256 KiB: a read, its hash and its send touch memory still in the core's cache (larger slabs
 * are no faster: docs/benchmark.md). Each transfer keeps up to SLABS_PER_TRANSFER of them busy.
 */
export const SLAB_SIZE = 256 * 1024
export const SLABS_PER_TRANSFER = 4

export const slabs = new SlabPool(SLAB_SIZE, 64)

/**
 * 1 MiB, for a large blob read from a file by the slab thread that hashes it: each slab costs a
 * message there and back and a socket write, and a quarter as many took 10–15 % less CPU for a
 * push. Downloads keep 256 KiB: larger slabs there raised a pull's peak memory by a third
 * (docs/benchmark.md).
 */
export const READ_SLAB_SIZE = 1024 * 1024

export const readSlabs = new SlabPool(READ_SLAB_SIZE, 16)

/** Gives a slab (or a view of one) back to the pool it came from; other buffers are ignored. */
export function giveSlab(chunk: Buffer): void {
  const pool = chunk.buffer.byteLength === READ_SLAB_SIZE ? readSlabs : slabs
  pool.give(chunk)
}
