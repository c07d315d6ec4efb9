// The copy engine between in-memory sources and sinks: order, skipping, failure semantics.
import { MemoryStore } from '../../__tests__/helpers/memory-store.js'
import { copyGraph, type CopyOptions } from './copy.js'
import { digestOf } from '../oci/digest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'

function put(store: MemoryStore, mediaType: string, bytes: Buffer): Descriptor {
  const desc = { mediaType, digest: digestOf(bytes), size: bytes.length }
  store.blobs.set(desc.digest, bytes)
  return desc
}

/** An index of two platform manifests sharing a base layer. */
function sample(): {
  src: MemoryStore
  index: Descriptor
  layers: Descriptor[]
  manifests: Descriptor[]
} {
  const src = new MemoryStore('src')
  const base = put(src, 'application/vnd.oci.image.layer.v1.tar+gzip', Buffer.from('base layer'))
  const layers = [base]
  const manifests = ['amd64', 'arm64'].map((arch) => {
    const top = put(src, 'application/vnd.oci.image.layer.v1.tar+gzip', Buffer.from(`top ${arch}`))
    layers.push(top)
    const config = put(
      src,
      'application/vnd.oci.image.config.v1+json',
      Buffer.from(JSON.stringify({ architecture: arch, os: 'linux' }))
    )
    const m = put(
      src,
      MediaType.OciManifest,
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config,
          layers: [base, top]
        })
      )
    )
    return { ...m, platform: { os: 'linux', architecture: arch } }
  })
  const index = put(
    src,
    MediaType.OciIndex,
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }))
  )
  src.tags.set('v1', index)
  return { src, index, layers, manifests }
}

const copy = async (src: MemoryStore, ref: string, dst: MemoryStore, opts?: CopyOptions) =>
  copyGraph(src, await src.resolve(ref), dst, opts)

describe('copy', () => {
  it('copies children before parents, each once', async () => {
    const { src, index, manifests } = sample()
    const dst = new MemoryStore('dst')
    const result = await copy(src, 'v1', dst, { concurrency: 3 })
    expect(result.root.digest).toBe(index.digest)
    expect(result.nodes).toBe(src.blobs.size)
    const at = (entry: string): number => dst.journal.indexOf(entry)
    for (const m of manifests) {
      const manifest = JSON.parse(src.blobs.get(m.digest)!.toString()) as {
        config: Descriptor
        layers: Descriptor[]
      }
      for (const child of [manifest.config, ...manifest.layers])
        expect(at(`push ${child.digest}`)).toBeLessThan(at(`push ${m.digest}`))
      expect(at(`push ${m.digest}`)).toBeLessThan(at(`push ${index.digest}`))
    }
    // The shared base layer is sent once.
    expect(dst.journal.filter((j) => j.startsWith('push')).length).toBe(src.blobs.size)
  })

  it('skips what the destination has', async () => {
    const { src, layers } = sample()
    const dst = new MemoryStore('dst')
    for (const l of layers) dst.blobs.set(l.digest, src.blobs.get(l.digest)!)
    const outcomes: string[] = []
    const result = await copy(src, 'v1', dst, {
      onEvent: (e) => e.type === 'blob' && outcomes.push(e.outcome)
    })
    expect(outcomes.filter((o) => o === 'exists')).toHaveLength(layers.length)
    expect(result.bytesSent).toBeLessThan(result.bytesTotal)
  })

  it('pushes no manifest above a corrupt blob', async () => {
    const { src, layers, index } = sample()
    src.blobs.set(layers[1].digest, Buffer.from('top AMD64')) // same size, other bytes
    const dst = new MemoryStore('dst')
    await expect(copy(src, 'v1', dst, { concurrency: 1 })).rejects.toThrow(
      /does not match its digest/
    )
    expect(dst.blobs.has(index.digest)).toBe(false)
  })
})
