import { createHash } from 'node:crypto'
import { slabHash } from './thread.js'

/** A blob's running hash: on a slab thread for large content (see thread.ts), else on this thread. */
export interface Hasher {
  /**
   * Hashes a chunk (a view of a pool slab); the slab must stay unchanged until this settles.
   * Undefined when the work was done at once.
   */
  update(chunk: Buffer): Promise<void> | undefined
  /**
   * For a hash on a slab thread: reads up to `into.length` bytes of file `fd` at `position` into
   * `into` (a view of a pool slab) and hashes them there, in one hop; resolves to the count read.
   */
  readInto?(fd: number, position: number, into: Buffer): Promise<number>
  /** The hex digest, once every update is in. */
  digest(): Promise<string>
  /** Forgets the hash (after a failure). */
  drop(): void
}

export type Algorithm = 'sha256' | 'sha512'

export function createHasher(algorithm: Algorithm, size: number): Hasher {
  const onThread = slabHash(size, algorithm)
  if (onThread) return onThread
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
