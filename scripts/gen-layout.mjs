#!/usr/bin/env node
// @ts-check
// Generate deterministic, synthetic OCI image layouts (BuildKit/buildx style) for tests and
// benchmarks: a directory, a tar (like `docker buildx build --output type=oci`) or a gzipped tar.
//
// Plain ESM with node built-ins only, so it runs with bare `node` before any build.
//
//   import { generateLayout } from './scripts/gen-layout.mjs'
//   const r = await generateLayout({ out: '/tmp/x.tar', format: 'tar', platforms: ['linux/amd64'],
//                                    layers: [1 << 20] })
//
//   node scripts/gen-layout.mjs --out /tmp/x.tar --format tar --platforms linux/amd64,linux/arm64 \
//     --layers 1048576,2097152 [--shared-base] [--attestations] [--tags v1,latest] [--seed N] \
//     [--gzip-level N] [--name docker.io/library/sample] [--cache] [--images N]
//
// Layer blobs are real gzip streams of real tars holding pseudo-random bytes (AES-128-CTR
// keystream derived from the seed). Random data does not compress, and zlib spends ~25 s/GiB
// trying, so by default the gzip members use "stored" deflate blocks written here (valid gzip,
// ~100x faster, and byte-identical across Node/zlib versions). Pass gzipLevel 0-9 to use zlib.
// Everything is streamed: memory stays at a few MiB whatever the layer sizes.

import crypto from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import zlib from 'node:zlib'

export const MEDIA_TYPES = Object.freeze({
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  inToto: 'application/vnd.in-toto+json'
})

const EPOCH = '1970-01-01T00:00:00Z'
const RANDOM_CHUNK = 65535 // one stored deflate block per keystream chunk; also AES sweet spot
const ZERO_CHUNK = Buffer.alloc(RANDOM_CHUNK)
const FORMATS = new Set(['tar', 'dir', 'tgz'])

/**
 * The options with their defaults filled in.
 * @typedef {object} Normalized
 * @property {string} out
 * @property {'tar'|'dir'|'tgz'} format
 * @property {string[]} platforms
 * @property {number[]} layers
 * @property {boolean} sharedBase
 * @property {boolean} attestations
 * @property {string[]} tags
 * @property {number} seed
 * @property {number | null} gzipLevel
 * @property {string} name
 * @property {number} [images] set only when asked, so that cached layouts without it still match
 */

/** @typedef {{ mediaType: string, digest: string, size: number }} Descriptor */
/** @typedef {Descriptor & { diffId: string }} Layer */

/**
 * @typedef {object} GenerateOptions
 * @property {string} out output path (file for tar/tgz, directory for dir)
 * @property {'tar'|'dir'|'tgz'} [format] default 'tar'
 * @property {string[]} [platforms] default ['linux/amd64']; os/arch[/variant]
 * @property {number[]} [layers] uncompressed random-content bytes of each layer; default [1024]
 * @property {boolean} [sharedBase] with >1 platform, layer 0 is the same blob on every platform
 * @property {boolean} [attestations] one BuildKit-style provenance attestation per platform
 * @property {string[]} [tags] default ['latest']
 * @property {number} [seed] default 1
 * @property {number} [gzipLevel] unset: stored deflate blocks (fast, deterministic); 0-9: zlib
 * @property {string} [name] image name for io.containerd.image.name, default docker.io/library/sample
 * @property {boolean} [cache] reuse `out` if it and `out + '.json'` exist and were made with the same options
 * @property {number} [images] N single-platform images (of the first platform) instead of one per
 *   platform, each with layers of its own (layer 0 shared with `sharedBase`) and tagged `tags[i]`
 *   in index.json, with no image index: a layout holding many tags. Needs N tags.
 */

/**
 * @param {GenerateOptions} opts
 * @returns {Promise<{digest: string, tags: string[], path: string, size: number,
 *   platforms: string[], format: string, mediaType: string, descriptor: object,
 *   blobBytes: number, manifests: object[], attestations: object[]}>}
 */
export async function generateLayout(opts) {
  const o = normalizeOptions(opts)
  const out = path.resolve(o.out)
  const sidecar = `${out}.json`

  await removeStaleTemps(out)
  if (opts.cache) {
    const cached = await readCache(out, sidecar, o)
    if (cached) return cached
  }
  await fsp.rm(sidecar, { force: true })

  const tmpId = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`
  const tmpOut = `${out}.tmp-${tmpId}`
  const workDir = o.format === 'dir' ? tmpOut : `${out}.tmp-${tmpId}-layout`
  await fsp.mkdir(path.dirname(out), { recursive: true })

  try {
    const built = await buildLayoutDir(workDir, o)
    if (o.format !== 'dir') {
      await writeLayoutTar(workDir, tmpOut, o)
      await fsp.rm(workDir, { recursive: true, force: true })
    }
    const size = await pathSize(tmpOut)
    await fsp.rm(out, { recursive: true, force: true })
    await fsp.rename(tmpOut, out)

    const result = {
      digest: built.top.digest,
      tags: o.tags,
      path: out,
      size,
      platforms: o.platforms,
      format: o.format,
      mediaType: built.top.mediaType,
      descriptor: built.top,
      blobBytes: built.blobBytes,
      manifests: built.manifests,
      attestations: built.attestations
    }
    const { out: _out, ...recorded } = o
    const sidecarTmp = `${sidecar}.tmp-${tmpId}`
    await fsp.writeFile(sidecarTmp, JSON.stringify({ result, opts: recorded }, null, 2) + '\n')
    await fsp.rename(sidecarTmp, sidecar)
    return result
  } catch (err) {
    await fsp.rm(tmpOut, { recursive: true, force: true }).catch(() => {})
    await fsp.rm(workDir, { recursive: true, force: true }).catch(() => {})
    throw err
  }
}

// Temp files are named <out>.tmp-<pid>-<rand>[-layout] and <out>.json.tmp-<pid>-<rand>; remove
// those left by runs that were killed (their pid is gone), never those of a live process.
/** @param {string} out */
async function removeStaleTemps(out) {
  const dir = path.dirname(out)
  const base = path.basename(out)
  let names
  try {
    names = await fsp.readdir(dir)
  } catch {
    return
  }
  for (const name of names) {
    const m = /^\.(?:json\.)?tmp-(\d+)-[0-9a-f]{8}(?:-layout)?$/.exec(name.slice(base.length))
    if (!name.startsWith(base) || !m || isAlive(Number(m[1]))) continue
    await fsp.rm(path.join(dir, name), { recursive: true, force: true })
  }
}

/** @param {number} pid */
function isAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM'
  }
}

/**
 * @param {GenerateOptions} opts
 * @returns {Normalized}
 */
function normalizeOptions(opts) {
  if (!opts || typeof opts.out !== 'string' || opts.out === '') {
    throw new Error('generateLayout: opts.out (string) is required')
  }
  const format = opts.format ?? 'tar'
  // A caller without types (the CLI) may pass anything.
  if (!FORMATS.has(format)) throw new Error(`generateLayout: unknown format ${format}`)
  const platforms = opts.platforms?.length ? [...opts.platforms] : ['linux/amd64']
  for (const p of platforms) parsePlatform(p)
  if (new Set(platforms).size !== platforms.length) {
    throw new Error('generateLayout: duplicate platforms')
  }
  const layers = opts.layers ? [...opts.layers] : [1024]
  for (const n of layers) {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`generateLayout: bad layer size ${n}`)
  }
  const tags = opts.tags?.length ? [...opts.tags] : ['latest']
  const images = opts.images
  if (images !== undefined) {
    if (!Number.isSafeInteger(images) || images < 1)
      throw new Error(`generateLayout: images must be a whole number >= 1`)
    if (tags.length !== images || new Set(tags).size !== images)
      throw new Error(`generateLayout: images: ${images} wants as many distinct tags`)
    if (opts.attestations) throw new Error('generateLayout: images and attestations do not mix')
  }
  const seed = opts.seed ?? 1
  if (!Number.isSafeInteger(seed)) throw new Error(`generateLayout: seed must be an integer`)
  const gzipLevel = opts.gzipLevel ?? null
  if (gzipLevel !== null && !(Number.isInteger(gzipLevel) && gzipLevel >= 0 && gzipLevel <= 9)) {
    throw new Error(`generateLayout: gzipLevel must be 0-9`)
  }
  return {
    out: opts.out,
    format,
    platforms,
    layers,
    sharedBase: !!opts.sharedBase && (images ?? platforms.length) > 1 && layers.length > 0,
    attestations: !!opts.attestations,
    tags,
    seed,
    gzipLevel,
    name: opts.name ?? 'docker.io/library/sample',
    ...(images === undefined ? {} : { images })
  }
}

/** @param {string} out @param {string} sidecar @param {Normalized} o */
async function readCache(out, sidecar, o) {
  try {
    const [, text] = await Promise.all([fsp.stat(out), fsp.readFile(sidecar, 'utf8')])
    const saved = JSON.parse(text)
    const { out: _out, ...wanted } = o
    if (JSON.stringify(saved.opts) === JSON.stringify(wanted) && saved.result?.digest) {
      return { ...saved.result, path: out }
    }
  } catch {
    // missing or unreadable: regenerate
  }
  return null
}

/** @param {string} p os/arch[/variant] */
export function parsePlatform(p) {
  const parts = String(p).split('/')
  if (parts.length < 2 || parts.length > 3 || parts.some((s) => s === '')) {
    throw new Error(`bad platform "${p}", want os/arch[/variant]`)
  }
  const [os, architecture, variant] = parts
  return variant ? { architecture, os, variant } : { architecture, os }
}

// ---------------------------------------------------------------------------------------------
// Layout directory

/** @param {string} dir @param {Normalized} o */
async function buildLayoutDir(dir, o) {
  const blobDir = path.join(dir, 'blobs', 'sha256')
  await fsp.mkdir(blobDir, { recursive: true })
  const seen = new Map() // digest -> size, to count unique blob bytes
  const note = (/** @type {Descriptor} */ desc) => seen.set(desc.digest, desc.size)

  /** @type {(mediaType: string, value: unknown) => Promise<Descriptor>} */
  const putJson = async (mediaType, value) => {
    const buf = Buffer.from(JSON.stringify(value))
    const hex = sha256hex(buf)
    const file = path.join(blobDir, hex)
    if (!seen.has(`sha256:${hex}`)) await fsp.writeFile(file, buf)
    const desc = { mediaType, digest: `sha256:${hex}`, size: buf.length }
    note(desc)
    return desc
  }

  /** @type {Map<string, Layer>} */
  const layerCache = new Map()
  /** @type {(Descriptor & { platform: string, platformObject: object, config: Descriptor, layers: object[] })[]} */
  const manifests = []
  // One image per platform, or with `images` that many of the first platform (each its own stream
  // of layer content; the first image's is the platform's, as without `images`).
  const units = o.images
    ? Array.from({ length: o.images }, (_, k) => ({
        platform: o.platforms[0],
        stream: k ? `${o.platforms[0]}\0image=${k}` : o.platforms[0]
      }))
    : o.platforms.map((p) => ({ platform: p, stream: p }))
  for (const { platform, stream: own } of units) {
    const plat = parsePlatform(platform)
    const layers = []
    for (let i = 0; i < o.layers.length; i++) {
      const stream = o.sharedBase && i === 0 ? 'shared-base' : own
      const key = `${stream}\0${i}`
      let layer = layerCache.get(key)
      if (!layer) {
        layer = await writeLayerBlob(blobDir, o, stream, i, o.layers[i])
        layerCache.set(key, layer)
      }
      note(layer)
      layers.push(layer)
    }
    const config = {
      architecture: plat.architecture,
      ...(plat.variant ? { variant: plat.variant } : {}),
      os: plat.os,
      created: EPOCH,
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['/bin/sh'],
        WorkingDir: '/'
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: [
        ...layers.map((_l, i) => ({
          created: EPOCH,
          created_by: `COPY blob-${i}.bin /data/blob-${i}.bin # buildkit`,
          comment: 'buildkit.dockerfile.v0'
        })),
        {
          created: EPOCH,
          created_by: 'CMD ["/bin/sh"]',
          comment: 'buildkit.dockerfile.v0',
          empty_layer: true
        }
      ]
    }
    const configDesc = await putJson(MEDIA_TYPES.config, config)
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: configDesc,
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }))
    }
    const desc = await putJson(MEDIA_TYPES.manifest, manifest)
    manifests.push({
      platform,
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      platformObject: plat,
      config: configDesc,
      layers: layers.map((l) => ({ digest: l.digest, size: l.size, diffId: l.diffId }))
    })
  }

  const attestations = []
  if (o.attestations) {
    for (const m of manifests) {
      const statement = {
        _type: 'https://in-toto.io/Statement/v0.1',
        predicateType: 'https://slsa.dev/provenance/v0.2',
        subject: [
          {
            name: `pkg:docker/${o.name.replace(/^docker\.io\/library\//, '')}@${o.tags[0]}?platform=${encodeURIComponent(m.platform)}`,
            digest: { sha256: m.digest.slice('sha256:'.length) }
          }
        ],
        predicate: {
          builder: { id: '' },
          buildType: 'https://mobyproject.org/buildkit@v1',
          metadata: { buildInvocationID: `gen-layout-${o.seed}`, completeness: {} }
        }
      }
      const layer = await putJson(MEDIA_TYPES.inToto, statement)
      const config = await putJson(MEDIA_TYPES.config, {
        architecture: 'unknown',
        os: 'unknown',
        config: {},
        rootfs: { type: 'layers', diff_ids: [layer.digest] }
      })
      const desc = await putJson(MEDIA_TYPES.manifest, {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.manifest,
        config,
        layers: [
          { ...layer, annotations: { 'in-toto.io/predicate-type': statement.predicateType } }
        ]
      })
      attestations.push({
        ...desc,
        annotations: {
          'vnd.docker.reference.digest': m.digest,
          'vnd.docker.reference.type': 'attestation-manifest'
        },
        platform: { architecture: 'unknown', os: 'unknown' }
      })
    }
  }

  /** @type {Descriptor} */
  let top
  if (o.images) {
    const m = manifests[0] // index.json tags each image; the first stands for the layout
    top = { mediaType: m.mediaType, digest: m.digest, size: m.size }
  } else if (o.platforms.length > 1 || o.attestations) {
    top = await putJson(MEDIA_TYPES.index, {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: [
        ...manifests.map((m) => ({
          mediaType: m.mediaType,
          digest: m.digest,
          size: m.size,
          platform: m.platformObject
        })),
        ...attestations
      ]
    })
  } else {
    const m = manifests[0]
    top = { mediaType: m.mediaType, digest: m.digest, size: m.size }
  }

  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: o.tags.map((tag, k) => ({
      ...(o.images
        ? {
            mediaType: manifests[k].mediaType,
            digest: manifests[k].digest,
            size: manifests[k].size
          }
        : top),
      annotations: {
        'io.containerd.image.name': `${o.name}:${tag}`,
        'org.opencontainers.image.ref.name': tag
      }
    }))
  }
  await fsp.writeFile(path.join(dir, 'index.json'), JSON.stringify(index))
  await fsp.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))

  let blobBytes = 0
  for (const s of seen.values()) blobBytes += s
  return {
    top,
    blobBytes,
    manifests: manifests.map(({ platformObject: _p, ...m }) => m),
    attestations: attestations.map((a) => ({
      digest: a.digest,
      size: a.size,
      for: a.annotations['vnd.docker.reference.digest']
    }))
  }
}

// One layer: tar { data/ , data/blob-<i>.bin (size random bytes) } -> gzip -> blobs/sha256/<hex>
/**
 * @param {string} blobDir @param {Normalized} o @param {string} stream @param {number} index
 * @param {number} size
 * @returns {Promise<Layer>}
 */
async function writeLayerBlob(blobDir, o, stream, index, size) {
  const material = crypto
    .createHash('sha256')
    .update(`gen-layout/v1\0seed=${o.seed}\0stream=${stream}\0layer=${index}`)
    .digest()
  const cipher = crypto.createCipheriv(
    'aes-128-ctr',
    material.subarray(0, 16),
    material.subarray(16)
  )

  function* layerTar() {
    yield tarHeader({ name: 'data/', mode: 0o755, size: 0, type: '5' })
    yield tarHeader({ name: `data/blob-${index}.bin`, mode: 0o644, size, type: '0' })
    let left = size
    while (left > 0) {
      const n = Math.min(left, RANDOM_CHUNK)
      yield cipher.update(n === RANDOM_CHUNK ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n))
      left -= n
    }
    const pad = (512 - (size % 512)) % 512
    yield Buffer.alloc(pad + 1024) // pad the file, then the two end-of-archive blocks
  }

  const diff = crypto.createHash('sha256')
  const blob = crypto.createHash('sha256')
  let blobSize = 0
  const tmp = path.join(
    blobDir,
    `.tmp-layer-${process.pid}-${crypto.randomBytes(4).toString('hex')}`
  )
  try {
    if (o.gzipLevel === null) {
      // Fast path, no stream machinery: hash + frame inline, keep one batched write in flight.
      const writer = await BatchWriter.open(tmp)
      try {
        const gz = new StoredGzip()
        const emit = async (/** @type {Buffer} */ buf) => {
          blob.update(buf)
          blobSize += buf.length
          await writer.push(buf)
        }
        await emit(gz.header())
        for (const piece of layerTar()) {
          diff.update(piece)
          for (const frame of gz.frame(piece)) await emit(frame)
        }
        await emit(gz.trailer())
      } finally {
        await writer.close()
      }
    } else {
      await pipeline(
        layerTar,
        async function* (/** @type {AsyncIterable<Buffer>} */ source) {
          for await (const chunk of source) {
            diff.update(chunk)
            yield chunk
          }
        },
        zlib.createGzip({ level: o.gzipLevel }),
        async function* (/** @type {AsyncIterable<Buffer>} */ source) {
          for await (const chunk of source) {
            blob.update(chunk)
            blobSize += chunk.length
            yield chunk
          }
        },
        fs.createWriteStream(tmp, { highWaterMark: 1 << 20 })
      )
    }
    const hex = blob.digest('hex')
    await fsp.rename(tmp, path.join(blobDir, hex))
    return {
      mediaType: MEDIA_TYPES.layer,
      digest: `sha256:${hex}`,
      size: blobSize,
      diffId: `sha256:${diff.digest('hex')}`
    }
  } catch (err) {
    await fsp.rm(tmp, { force: true })
    throw err
  }
}

/** Sequential file writer: batches ~1 MiB per writev and keeps one write in flight. */
class BatchWriter {
  /** @param {string} file */
  static async open(file) {
    return new BatchWriter(await fsp.open(file, 'w'))
  }

  /** @param {fsp.FileHandle} fh */
  constructor(fh) {
    this.fh = fh
    /** @type {Buffer[]} */
    this.batch = []
    this.bytes = 0
    /** @type {Promise<void> | null} */
    this.pending = null
    this.closed = false
  }

  /** @param {Buffer} buf */
  async push(buf) {
    if (buf.length === 0) return
    this.batch.push(buf)
    this.bytes += buf.length
    if (this.bytes >= 1 << 20 || this.batch.length >= 256) await this.flush()
  }

  async flush() {
    await this.pending
    const batch = this.batch
    const bytes = this.bytes
    this.batch = []
    this.bytes = 0
    this.pending = batch.length ? writeAll(this.fh, batch, bytes) : null
  }

  async close() {
    if (this.closed) return
    this.closed = true
    try {
      await this.flush()
      await this.pending
    } finally {
      await this.fh.close()
    }
  }
}

/** @param {fsp.FileHandle} fh @param {Buffer[]} bufs @param {number} total */
async function writeAll(fh, bufs, total) {
  const { bytesWritten } = await fh.writev(bufs)
  if (bytesWritten < total) {
    // short write (not expected for regular files): write the remainder plainly
    let rest = Buffer.concat(bufs).subarray(bytesWritten)
    while (rest.length) {
      const r = await fh.write(rest)
      rest = rest.subarray(r.bytesWritten)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// gzip: zlib for a given level, otherwise stored (uncompressed) deflate blocks written by hand.

/** @param {number | null | undefined} level */
function gzipStage(level) {
  if (level !== null && level !== undefined) return zlib.createGzip({ level })
  return storedGzip
}

// mtime 0, XFL 0, OS 255 (unknown) -- like Go's compress/gzip
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])
// final, empty stored block
const FINAL_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff])

/** gzip member made of stored (BTYPE=00) deflate blocks: a valid gzip that does not compress. */
class StoredGzip {
  crc = 0
  isize = 0

  header() {
    return GZIP_HEADER
  }

  /** @param {Buffer} chunk */
  *frame(chunk) {
    if (chunk.length === 0) return
    this.crc = crc32(chunk, this.crc)
    this.isize = (this.isize + chunk.length) % 0x100000000
    for (let off = 0; off < chunk.length; off += 65535) {
      const part = chunk.subarray(off, off + 65535)
      const head = Buffer.allocUnsafe(5)
      head[0] = 0x00 // BFINAL=0, BTYPE=00; the rest of the byte is padding
      head.writeUInt16LE(part.length, 1)
      head.writeUInt16LE(~part.length & 0xffff, 3)
      yield head
      yield part
    }
  }

  trailer() {
    const tail = Buffer.alloc(13)
    FINAL_BLOCK.copy(tail, 0)
    tail.writeUInt32LE(this.crc >>> 0, 5)
    tail.writeUInt32LE(this.isize, 9)
    return tail
  }
}

/** @param {AsyncIterable<Buffer>} source */
async function* storedGzip(source) {
  const gz = new StoredGzip()
  yield gz.header()
  for await (const chunk of source) yield* gz.frame(chunk)
  yield gz.trailer()
}

/** @type {Int32Array | undefined} */
let crcTable
/** @param {Buffer} buf @param {number} crc */
function crc32(buf, crc) {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(buf, crc) // Node >= 20.15 / 22.2
  if (!crcTable) {
    crcTable = new Int32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c
    }
  }
  let c = ~crc
  for (let i = 0; i < buf.length; i++) c = crcTable[(c ^ buf[i]) & 0xff] ^ (c >>> 8)
  return ~c >>> 0
}

// ---------------------------------------------------------------------------------------------
// tar

/**
 * A ustar header block as Go's archive/tar writes it (uid/gid 0, empty uname/gname, mtime 0).
 * @param {{ name: string, mode: number, size: number, type: string, mtime?: number }} entry
 */
export function tarHeader({ name, mode, size, type, mtime = 0 }) {
  const b = Buffer.alloc(512)
  let prefix = ''
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2)
    prefix = name.slice(0, cut)
    name = name.slice(cut + 1)
    if (cut < 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) {
      throw new Error(`tar name too long: ${prefix}/${name}`)
    }
  }
  b.write(name, 0, 100, 'utf8')
  octal(b, 100, 8, mode)
  octal(b, 108, 8, 0) // uid
  octal(b, 116, 8, 0) // gid
  if (size <= 0o77777777777) {
    octal(b, 124, 12, size)
  } else {
    b[124] = 0x80 // GNU base-256 for >= 8 GiB
    b.writeBigUInt64BE(BigInt(size), 128)
  }
  octal(b, 136, 12, mtime)
  b.write(type, 156, 1, 'latin1')
  b.write('ustar\u000000', 257, 8, 'latin1')
  b.write(prefix, 345, 155, 'utf8')
  b.fill(0x20, 148, 156) // checksum is computed with its own field as spaces
  let sum = 0
  for (let i = 0; i < 512; i++) sum += b[i]
  b.write(sum.toString(8).padStart(6, '0') + '\u0000 ', 148, 8, 'latin1')
  return b
}

/** @param {Buffer} b @param {number} off @param {number} len @param {number} n */
function octal(b, off, len, n) {
  b.write(n.toString(8).padStart(len - 1, '0') + '\u0000', off, len, 'latin1')
}

// Like BuildKit's OCI exporter: entries sorted by name, directory entries, files 0444, mtime 0.
// Blob files are deleted as soon as they are in the tar, so disk use peaks at ~1x + one blob.
/** @param {string} dir @param {string} file @param {Normalized} o */
async function writeLayoutTar(dir, file, o) {
  /** @type {{ name: string, dir?: boolean }[]} */
  const entries = [
    { name: 'blobs/', dir: true },
    { name: 'blobs/sha256/', dir: true }
  ]
  const blobs = (await fsp.readdir(path.join(dir, 'blobs', 'sha256'))).filter(
    (n) => !n.startsWith('.')
  )
  for (const n of blobs) entries.push({ name: `blobs/sha256/${n}` })
  entries.push({ name: 'index.json' }, { name: 'oci-layout' })
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))

  async function* tarStream() {
    for (const e of entries) {
      if (e.dir) {
        yield tarHeader({ name: e.name, mode: 0o755, size: 0, type: '5' })
        continue
      }
      const p = path.join(dir, e.name)
      const { size } = await fsp.stat(p)
      yield tarHeader({ name: e.name, mode: 0o444, size, type: '0' })
      let copied = 0
      for await (const chunk of fs.createReadStream(p, { highWaterMark: 1 << 20 })) {
        copied += chunk.length
        yield chunk
      }
      if (copied !== size) throw new Error(`${p} changed while archiving`)
      if (size % 512) yield Buffer.alloc(512 - (size % 512))
      if (e.name.startsWith('blobs/')) await fsp.rm(p)
    }
    yield Buffer.alloc(1024)
  }

  const out = fs.createWriteStream(file, { highWaterMark: 1 << 20 })
  if (o.format === 'tgz') await pipeline(tarStream, gzipStage(o.gzipLevel), out)
  else await pipeline(tarStream, out)
}

// ---------------------------------------------------------------------------------------------

/** @param {Buffer} buf */
function sha256hex(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex')
}

/**
 * @param {string} p
 * @returns {Promise<number>}
 */
async function pathSize(p) {
  const st = await fsp.stat(p)
  if (!st.isDirectory()) return st.size
  let total = 0
  for (const e of await fsp.readdir(p, { withFileTypes: true })) {
    total += await pathSize(path.join(p, e.name))
  }
  return total
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage: node scripts/gen-layout.mjs --out FILE --format tar|dir|tgz
  [--platforms linux/amd64,linux/arm64] [--layers 1048576,2097152] [--shared-base]
  [--attestations] [--tags v1,latest] [--seed N] [--gzip-level 0-9] [--name IMAGE] [--cache]
  [--images N]`

export async function main(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      out: { type: 'string', short: 'o' },
      format: { type: 'string', short: 'f' },
      platforms: { type: 'string' },
      layers: { type: 'string' },
      'shared-base': { type: 'boolean' },
      attestations: { type: 'boolean' },
      tags: { type: 'string' },
      seed: { type: 'string' },
      'gzip-level': { type: 'string' },
      name: { type: 'string' },
      cache: { type: 'boolean' },
      images: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  if (!values.out) throw new Error(`--out is required\n${USAGE}`)
  const list = (/** @type {string | undefined} */ s) =>
    s === undefined
      ? undefined
      : s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)
  const int = (/** @type {string} */ s, /** @type {string} */ what) => {
    if (!/^\d+$/.test(s)) throw new Error(`${what}: not a non-negative integer: ${s}`)
    return Number(s)
  }
  const result = await generateLayout({
    out: values.out,
    format: /** @type {GenerateOptions['format']} */ (values.format ?? 'tar'),
    platforms: list(values.platforms),
    layers: list(values.layers)?.map((s) => int(s, '--layers')),
    sharedBase: values['shared-base'],
    attestations: values.attestations,
    tags: list(values.tags),
    seed: values.seed === undefined ? undefined : int(values.seed, '--seed'),
    gzipLevel:
      values['gzip-level'] === undefined ? undefined : int(values['gzip-level'], '--gzip-level'),
    name: values.name,
    cache: values.cache,
    images: values.images === undefined ? undefined : int(values.images, '--images')
  })
  console.log(JSON.stringify(result, null, 2))
}

const invokedDirectly = (() => {
  try {
    return !!process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
})()

if (invokedDirectly) {
  main().catch((err) => {
    console.error(`gen-layout: ${err instanceof Error ? err.message : err}`)
    process.exitCode = 1
  })
}
