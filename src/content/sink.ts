import type { Descriptor } from '../oci/types.js'
import { readCursor, type ContentCursor } from './blob-cursor.js'

/**
 * Content to push: small content as bytes; a blob as something that opens a fresh cursor over
 * its verified bytes, so a retry or a resumed upload can read it again.
 */
export type Content = Buffer | BlobContent

export interface BlobContent {
  readonly size: number
  /** A cursor over the bytes, positioned at `start` (the bytes before it are read and checked, not lent). */
  open(start?: number): Promise<ContentCursor>
}

/** How a blob or manifest got to the destination; `exists`: the push found it already there. */
export type PushOutcome = 'uploaded' | 'mounted' | 'exists'

/**
 * Where a copy writes: a registry repository, or a layout being written (see LayoutSink, whose
 * `commit` makes it whole). Content is verified by the caller before its last bytes arrive.
 */
export interface Sink {
  /** A name for messages: a path or `host/repository`. */
  readonly name: string
  /** Whether the content is present (and, for a layout, intact). */
  exists(desc: Descriptor): Promise<boolean>
  /**
   * True when `push` itself finds out whether the content is there (answering `exists`), so
   * asking `exists` first would only cost a round trip.
   */
  asksOnPush?(desc: Descriptor): boolean
  /** Stores content under its digest. */
  push(desc: Descriptor, content: Content): Promise<PushOutcome>
  /**
   * Points a tag at content already pushed; `bytes`, the manifest's, when the caller has them, so
   * a sink that needs them (a registry, when the manifest was there before) fetches nothing.
   */
  tag(desc: Descriptor, tag: string, bytes?: Buffer): Promise<void>
  /** Told everything a copy will push before it starts (a tar written in place lays out its members). */
  prepare?(descs: Descriptor[]): Promise<void>
  /** Makes referrers (already pushed) findable from their subject, where the sink needs that done. */
  addReferrers?(subject: Descriptor, referrers: Descriptor[]): Promise<void>
}

/** The whole content as bytes, refusing more than `limit`. */
export async function contentBytes(content: Content, limit: number, what: string): Promise<Buffer> {
  if (Buffer.isBuffer(content)) return content
  return readCursor(await content.open(), content.size, limit, what)
}
