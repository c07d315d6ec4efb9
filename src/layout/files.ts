import type { Readable } from 'node:stream'

/**
 * Read access to the files of an OCI layout, wherever they are stored (a directory, or a tar
 * read in place). Names are layout-relative with `/` separators: `index.json`, `blobs/sha256/…`.
 */
export interface LayoutFiles {
  /** The path the user gave, for messages. */
  readonly location: string
  /** Size in bytes of a regular file, or undefined when there is none by that name. */
  size(name: string): Promise<number | undefined>
  /** Streams a file's bytes; the caller must consume or destroy the stream. */
  open(name: string): Promise<Readable>
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
