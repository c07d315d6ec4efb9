import type { Readable } from 'node:stream'
import { readCursor, type BlobCursor, type ChunkSource } from './blob-cursor.js'
import { OciError } from '../errors/errors.js'
import type { Descriptor } from '../oci/types.js'

/**
 * Content to push: small content as bytes; a blob as something that opens a fresh cursor over
 * its verified bytes, so a retry or a resumed upload can read it again.
 */
export type Content = Buffer | BlobContent

export interface BlobContent {
  readonly size: number
  /** A cursor over the bytes, positioned at `start` (the bytes before it are read and checked, not lent). */
  open(start?: number): Promise<BlobCursor>
}

/** Where content can be read: an OCI layout or a registry repository. */
export interface ReadOnlyTarget {
  /** A name for messages: a path or `host/repository`. */
  readonly name: string
  /** The fix to suggest when its content contradicts a descriptor; by default, rebuild the layout. */
  readonly mismatchHint?: string
  /** Finds the descriptor a reference (tag or digest) points at. */
  resolve(reference: string): Promise<Descriptor>
  /** Streams the raw bytes of content; the caller verifies them. */
  fetch(desc: Descriptor): Promise<Readable>
  /**
   * A blob's bytes straight into pooled slabs, where the target can do better than a stream (a
   * layout file read in place, a registry body read off the socket). The caller verifies them.
   */
  openChunks?(desc: Descriptor): Promise<ChunkSource>
  /** Whether the content is present. */
  exists(desc: Descriptor): Promise<boolean>
  /** The stored size, where it is cheap to know (a layout): lets a copy check everything before it sends anything. */
  size?(desc: Descriptor): Promise<number | undefined>
  /**
   * The manifests whose `subject` is `subject` (signatures, SBOMs, attestations), as referrers
   * descriptors (with artifactType and annotations); optionally only of one artifact type.
   */
  referrers?(subject: Descriptor, artifactType?: string): Promise<Descriptor[]>
}

/** How a blob or manifest got to the destination. */
export type PushOutcome = 'uploaded' | 'mounted'

/** Where content can be written as well. */
export interface Target extends ReadOnlyTarget {
  /** Stores content under its digest. The content is verified by the caller. */
  push(desc: Descriptor, content: Content): Promise<PushOutcome>
  /** Points a tag at content already pushed. */
  tag(desc: Descriptor, tag: string): Promise<void>
  /** Told everything a copy will push before it starts (a tar written in place lays out its members). */
  prepare?(descs: Descriptor[]): Promise<void>
  /** Makes referrers (already pushed) findable from their subject, where the target needs that done. */
  addReferrers?(subject: Descriptor, referrers: Descriptor[]): Promise<void>
}

/** The whole content as bytes, refusing more than `limit`. */
export async function contentBytes(content: Content, limit: number, what: string): Promise<Buffer> {
  if (Buffer.isBuffer(content)) return content
  return readCursor(await content.open(), content.size, limit, what)
}

export async function readAll(stream: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > limit) {
      stream.destroy()
      throw new OciError(`${what} is larger than ${limit} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, total)
}
