// A source and sink held in memory, for tests of the copy engine: what was pushed and tagged, in order.
import { bufferSource, type ChunkSource } from '../../src/content/blob-cursor.js'
import { contentBytes, type Content, type PushOutcome, type Sink } from '../../src/content/sink.js'
import type { Source } from '../../src/content/source.js'
import { NotFoundError } from '../../src/errors/errors.js'
import type { Descriptor } from '../../src/oci/types.js'

export class MemoryStore implements Source, Sink {
  readonly name: string
  readonly blobs = new Map<string, Buffer>()
  readonly tags = new Map<string, Descriptor>()
  /** Every push and tag in order, as `push <digest>` / `tag <name>`. */
  readonly journal: string[] = []

  constructor(name = 'memory') {
    this.name = name
  }

  async resolve(reference: string): Promise<Descriptor> {
    const desc = this.tags.get(reference)
    if (!desc) throw new NotFoundError(`${this.name}: ${reference} not found`)
    return desc
  }

  async open(desc: Descriptor): Promise<ChunkSource> {
    const bytes = this.blobs.get(desc.digest)
    if (!bytes) throw new NotFoundError(`${this.name}: ${desc.digest} not found`)
    return bufferSource(bytes)
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return this.blobs.has(desc.digest)
  }

  async push(desc: Descriptor, content: Content): Promise<PushOutcome> {
    const bytes = await contentBytes(content, Number.MAX_SAFE_INTEGER, desc.digest)
    this.blobs.set(desc.digest, bytes)
    this.journal.push(`push ${desc.digest}`)
    return 'uploaded'
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    this.tags.set(tag, desc)
    this.journal.push(`tag ${tag}`)
  }
}
