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
