import type { FileHandle } from 'node:fs/promises'
import { slabWrites, WRITE_PIECE } from './thread.js'

/**
 * Writes one blob's chunks into a file: on a slab thread for large content (small synchronous
 * writes beside the hashing, see thread.ts), else here through the thread pool. Only writes:
 * whether the bytes are right is the cursor's to check, before it lends the last chunk. It sits
 * beside the slab threads because it must reach them; which file, and what a failure is called,
 * are the layout's (writeContentAt).
 */
export interface FileWriter {
  /**
   * Writes a chunk at `position`, going on after short writes; a chunk of a pool slab must stay
   * unchanged until this settles. A failure carries the OS error's code.
   */
  write(chunk: Buffer, position: number): Promise<void>
}

/**
 * A writer for content of `size` bytes into `fh`. `inOrder`: one write at a time, the chunks
 * that queued meanwhile going out right after (a slab thread writes one at a time anyway).
 */
export function fileWriter(
  fh: FileHandle,
  size: number,
  opts: { inOrder?: boolean } = {}
): FileWriter {
  const onThread = slabWrites(size)
  if (onThread) return { write: (chunk, position) => onThread.write(chunk, fh.fd, position) }
  if (!opts.inOrder) return { write: (chunk, position) => writeFully(fh, chunk, position) }
  let tail = Promise.resolve()
  return {
    write(chunk, position) {
      const done = tail.then(() => writeFully(fh, chunk, position))
      // A failed write fails its own chunk only; the next one is still tried.
      tail = done.catch(() => undefined)
      return done
    }
  }
}

/** Writes all of `chunk` at `position` in WRITE_PIECE writes, going on after a short write. */
export async function writeFully(fh: FileHandle, chunk: Buffer, position: number): Promise<void> {
  for (let off = 0; off < chunk.length;) {
    const len = Math.min(WRITE_PIECE, chunk.length - off)
    const { bytesWritten } = await fh.write(chunk, off, len, position + off)
    if (bytesWritten === 0) throw new Error('the file took no bytes')
    off += bytesWritten
  }
}
