import type { FileHandle } from 'node:fs/promises'
import { PassThrough, type Readable } from 'node:stream'
import type { BlobReader } from '../content/blob-cursor.js'
import { fileWriter, writeFully } from '../slabs/file-writer.js'
import { LayoutError, OciError } from '../errors/errors.js'
import type { Content } from '../content/sink.js'

/**
 * Read access to the files of an OCI layout, wherever they are stored (a directory, or a tar
 * read in place). Names are layout-relative with `/` separators: `index.json`, `blobs/sha256/…`.
 */
export interface LayoutFiles {
  /** The path the user gave, for messages. */
  readonly location: string
  /**
   * Size in bytes of a regular file, or undefined when there is none by that name. Throws a
   * LayoutError when the name exists but is not a regular file (a directory, device, FIFO, a link
   * leaving the layout), so such a thing is never opened.
   */
  size(name: string): Promise<number | undefined>
  /** Streams a file's bytes; the caller must consume or destroy the stream. */
  open(name: string): Promise<Readable>
  /** Random access to a file's bytes; the caller must close it. */
  reader(name: string): Promise<BlobReader>
  /** Throws a LayoutError naming the first member a layout must not hold, if there is one. */
  check?(): void
  close(): Promise<void>
}

/** Normalises an archive member name: drops `./` and leading `/`, refuses `..` escapes. */
export function normaliseName(name: string): string | undefined {
  const parts: string[] = []
  for (const part of name.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (parts.length === 0) return undefined
      parts.pop()
      continue
    }
    parts.push(part)
  }
  return parts.join('/')
}

/** How a Node fs error reads in a message: its code, else its message. */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  return e?.code ?? (err instanceof Error ? err.message : String(err))
}

/**
 * Passes a file stream through, turning any error it raises (a read failure, the file gone)
 * into a LayoutError naming the file, so no raw fs error reaches the user.
 */
export function guardStream(stream: Readable, what: string): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 })
  stream.on('error', (err) => {
    out.destroy(
      err instanceof OciError
        ? err
        : new LayoutError(`${what}: cannot be read (${fsReason(err)})`, { cause: err })
    )
  })
  out.on('close', () => stream.destroy())
  stream.pipe(out)
  return out
}

/**
 * Reads `size` bytes of an open file from `offset` on (a whole file, or a tar member's range).
 * Read failures become LayoutErrors naming the file; the handle is closed with the reader.
 */
export function rangeReader(
  fh: FileHandle,
  offset: number,
  size: number,
  what: string
): BlobReader {
  const readAt = async (
    buf: Buffer,
    position: number,
    read: (into: Buffer, at: number) => Promise<number>
  ): Promise<number> => {
    const length = Math.min(buf.length, size - position)
    if (length <= 0) return 0
    try {
      return await read(buf.subarray(0, length), offset + position)
    } catch (err) {
      // Ours (the slab thread failed) already says what happened.
      if (err instanceof OciError) throw err
      throw new LayoutError(`${what}: cannot be read (${fsReason(err)})`, { cause: err })
    }
  }
  return {
    size,
    read: (buf, position) =>
      readAt(
        buf,
        position,
        async (into, at) => (await fh.read(into, 0, into.length, at)).bytesRead
      ),
    readVia: (via, buf, position) => readAt(buf, position, (into, at) => via(fh.fd, at, into)),
    close: () => fh.close().catch(() => undefined)
  }
}

/**
 * Writes content into an open file from `position` on: bytes in one write, a blob slab by slab
 * as its cursor lends them (through a FileWriter: on a slab thread for large blobs). Resolves to
 * the bytes written; a write failure is a LayoutError naming the file.
 *
 * `inOrder`: one write at a time. Concurrent writes to one file contend for its inode lock, and
 * past its end each also extends it, at several times the CPU of writing front to back
 * (docs/benchmark.md). A file of its own takes `inOrder`; regions of a shared file (a tar written
 * in place) are written as they come.
 */
export async function writeContentAt(
  fh: FileHandle,
  content: Content,
  position: number,
  what: string,
  opts: { inOrder?: boolean } = {}
): Promise<number> {
  const failed = (err: unknown): never => {
    // Ours (the slab thread failed) already says what happened.
    if (err instanceof OciError) throw err
    throw new LayoutError(`${what}: cannot be written (${fsReason(err)})`, {
      cause: err,
      hint: 'check that the destination has free space and is writable'
    })
  }
  if (Buffer.isBuffer(content)) {
    await writeFully(fh, content, position).catch(failed)
    return content.length
  }
  const cursor = await content.open()
  const writer = fileWriter(fh, content.size, opts)
  let at = position
  try {
    await cursor.pump((chunk) => {
      const where = at
      at += chunk.length
      return writer.write(chunk, where).catch(failed)
    })
  } finally {
    await cursor.close()
  }
  return cursor.position
}
