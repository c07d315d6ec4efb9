import { createHash } from 'node:crypto'
import { slabHash } from './thread.js'

/** A blob's running hash: on a slab thread for large content (see thread.ts), else on this thread. */
export interface Hasher {
  /**
   * Hashes a chunk (a view of a pool slab); the slab must stay unchanged until this settles.
   * Undefined when the work was done at once.
   */
  update(chunk: Buffer): Promise<void> | undefined
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
