import { Readable } from 'node:stream'
import { NotFoundError } from '../errors/errors.js'
import { contentBytes, type Content, type PushOutcome, type Target } from './target.js'
import type { Descriptor } from '../oci/types.js'

/** A target held in memory: for tests of the copy engine and for small in-process graphs. */
export class MemoryStore implements Target {
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

  async fetch(desc: Descriptor): Promise<Readable> {
    const bytes = this.blobs.get(desc.digest)
    if (!bytes) throw new NotFoundError(`${this.name}: ${desc.digest} not found`)
    return Readable.from([bytes])
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
