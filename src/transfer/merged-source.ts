import { bufferSource, type ChunkSource } from '../content/blob-cursor.js'
import type { Source } from '../content/source.js'
import { NotFoundError } from '../errors/errors.js'
import type { LayoutSource } from '../layout/layout-source.js'
import type { Descriptor } from '../oci/types.js'

/**
 * A merged index as a Source: the index's own bytes, and every other manifest and blob read from
 * the first layout that holds it, so the ordinary engine copies the whole of it.
 */
export class MergedSource implements Source {
  readonly name: string
  readonly #layouts: LayoutSource[]
  readonly #index: { desc: Descriptor; bytes: Buffer }
  readonly #owner = new Map<string, LayoutSource | undefined>()

  constructor(layouts: LayoutSource[], index: { desc: Descriptor; bytes: Buffer }) {
    this.#layouts = layouts
    this.#index = index
    this.name = `the index merged from ${layouts.map((l) => l.name).join(', ')}`
  }

  async resolve(reference: string): Promise<Descriptor> {
    if (reference === '' || reference === this.#index.desc.digest) return this.#index.desc
    throw new NotFoundError(`${reference} is not the merged index ${this.#index.desc.digest}`)
  }

  async #find(desc: Descriptor): Promise<LayoutSource | undefined> {
    if (!this.#owner.has(desc.digest)) {
      let found: LayoutSource | undefined
      for (const l of this.#layouts)
        if (await l.exists(desc)) {
          found = l
          break
        }
      this.#owner.set(desc.digest, found)
    }
    return this.#owner.get(desc.digest)
  }

  async open(desc: Descriptor): Promise<ChunkSource> {
    if (desc.digest === this.#index.desc.digest) return bufferSource(this.#index.bytes)
    const layout = await this.#find(desc)
    if (!layout) throw new NotFoundError(`blob ${desc.digest} is in none of ${this.name}`)
    return layout.open(desc)
  }

  async exists(desc: Descriptor): Promise<boolean> {
    return desc.digest === this.#index.desc.digest || (await this.#find(desc)) !== undefined
  }

  async size(desc: Descriptor): Promise<number | undefined> {
    if (desc.digest === this.#index.desc.digest) return this.#index.bytes.length
    return (await this.#find(desc))?.size(desc)
  }
}
