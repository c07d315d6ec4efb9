import type { Readable } from 'node:stream'
import { OciError } from '../errors/errors.js'
import { verifyBuffer } from '../oci/digest.js'
import { parseManifest, type ParsedManifest } from '../oci/manifest.js'
import { MAX_MANIFEST_BYTES } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'
import { giveSlab } from '../slabs/pool.js'
import type { ChunkSource } from './blob-cursor.js'

/**
 * Where a copy reads: an OCI layout (directory or tar) or a registry repository. Content is
 * read one way, as slabs, whether it is a manifest or a blob of a GiB; the caller verifies it.
 */
export interface Source {
  /** A name for messages: a path or `host/repository`. */
  readonly name: string
  /** The fix to suggest when its content contradicts a descriptor; by default, rebuild the layout. */
  readonly mismatchHint?: string
  /** Finds the descriptor a reference (tag or digest) points at. */
  resolve(reference: string): Promise<Descriptor>
  /** The stored bytes of content, front to back in pool slabs; the caller verifies them. */
  open(desc: Descriptor): Promise<ChunkSource>
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

/** Small content (a manifest, a config) whole, refusing more than `limit` bytes; not verified. */
export async function readContent(
  src: Source,
  desc: Descriptor,
  limit: number,
  what: string
): Promise<Buffer> {
  if (desc.size > limit) throw new OciError(`${what} is larger than ${limit} bytes`)
  const chunks = await src.open(desc)
  const parts: Buffer[] = []
  let total = 0
  try {
    // One byte past the limit tells enough; the caller checks the size against the descriptor.
    for (let c = await chunks.next(limit + 1); c; c = await chunks.next(limit + 1 - total)) {
      parts.push(Buffer.from(c))
      total += c.length
      giveSlab(c)
      if (total > limit) throw new OciError(`${what} is larger than ${limit} bytes`)
    }
  } finally {
    await chunks.close()
  }
  return Buffer.concat(parts, total)
}

/** A manifest or index whole, checked against its descriptor (the source's hint if not) and parsed. */
export async function readManifest(
  src: Source,
  desc: Descriptor
): Promise<{ bytes: Buffer; parsed: ParsedManifest }> {
  const what = `manifest ${desc.digest} of ${src.name}`
  const bytes = await readContent(src, desc, MAX_MANIFEST_BYTES, what)
  verifyBuffer(bytes, desc, what, src.mismatchHint)
  return { bytes, parsed: parseManifest(bytes, desc.mediaType, what) }
}

/** A whole stream (a manifest's HTTP body, a layout file), refusing more than `limit` bytes. */
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
