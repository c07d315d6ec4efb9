// @ts-check
// The layouts the cases push and pull: generated once by gen-layout.mjs and cached under
// .bench/, read back as the list of files the wire sends, and checked after a pull.

import fsp from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { generateLayout } from '../gen-layout.mjs'
import { BENCH_DIR, MiB, TAG, gib } from './common.mjs'

/**
 * A generated layout, with the digest each of its tags names (one tag, `v1`, but for `tags100`).
 * @typedef {Awaited<ReturnType<typeof generateLayout>> & { refs: Ref[] }} LayoutInfo
 * @typedef {{ tag: string, digest: string }} Ref
 */

/**
 * A layout directory as the wire sends it.
 * @typedef {{ mediaType: string, digest: string, size: number, file: string }} WireBlob
 * @typedef {WireBlob & { depth: number }} WireManifest depth 0 is the root (pushed by tag)
 * @typedef {object} WireLayout
 * @property {{ mediaType: string, digest: string, size: number }} root
 * @property {WireManifest[]} manifests children first
 * @property {{ tag: string, manifest: WireManifest }[]} tags index.json's tagged entries, pushed by tag
 * @property {WireBlob[]} blobs
 * @property {number} blobBytes
 */

/** @typedef {{ mediaType: string, digest: string, size: number }} Descriptor */

const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json'
])
export const ACCEPT = [...MANIFEST_TYPES].join(', ')

/**
 * The layout families; `<family>.tar` and `<family>-dir` hold the same bytes. `images`: that many
 * one-platform images, each tagged (gen-layout's `images`), instead of one image tagged TAG.
 * @type {Record<string, { platforms: string[], layers: number[], sharedBase?: boolean, seed: number, images?: number }>}
 */
const FAMILIES = {
  '1g': { platforms: ['linux/amd64'], layers: Array(8).fill(128 * MiB), seed: 1 },
  '2p': {
    platforms: ['linux/amd64', 'linux/arm64'],
    layers: [256 * MiB, 128 * MiB, 128 * MiB, 128 * MiB],
    sharedBase: true,
    seed: 2
  },
  '4g': { platforms: ['linux/amd64'], layers: Array(8).fill(512 * MiB), seed: 4 },
  // One layer above the 256 MiB chunk size the action used to default to.
  big1: { platforms: ['linux/amd64'], layers: [640 * MiB, 4096], seed: 5 },
  // Many small layers: the per-blob cost, not the bytes (a 155 KB manifest, well under 4 MiB).
  small1k: { platforms: ['linux/amd64'], layers: Array(1000).fill(4 * 1024), seed: 6 },
  // 100 tags: 100 small images sharing a 1 MiB base layer, each with a 4 KiB layer of its own.
  tags100: {
    platforms: ['linux/amd64'],
    layers: [MiB, 4 * 1024],
    sharedBase: true,
    seed: 7,
    images: 100
  }
}

/** `t001` … `t100`: the tags of a family of `images`. */
const imageTags = (/** @type {number} */ n) =>
  Array.from({ length: n }, (_, i) => `t${String(i + 1).padStart(3, '0')}`)

/** The order layouts are generated and listed in, whatever order the cases name them. */
const LAYOUT_ORDER = [
  ...['1g.tar', '1g-dir', '2p.tar', '2p-dir', 'big1.tar', 'big1-dir'],
  ...['small1k.tar', 'small1k-dir', 'tags100-dir', '4g.tar']
]

/** `1g.tar` -> `1g`: the family, which also names its seed store. */
export const familyOf = (/** @type {string} */ name) => name.split(/[.-]/)[0]

/**
 * index.json -> manifests -> blobs of a layout directory: what the wire cases send.
 * @param {string} dir
 * @returns {Promise<WireLayout>}
 */
export async function readLayoutDir(dir) {
  const index = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8'))
  const file = (/** @type {string} */ d) => path.join(dir, 'blobs', ...d.split(':'))
  /** @type {Map<string, WireManifest>} */
  const manifests = new Map()
  /** @type {Map<string, WireBlob>} */
  const blobs = new Map()
  /** @type {(desc: Descriptor, depth: number) => Promise<void>} */
  const visit = async (desc, depth) => {
    if (MANIFEST_TYPES.has(desc.mediaType)) {
      const prev = manifests.get(desc.digest)
      if (prev) {
        prev.depth = Math.min(prev.depth, depth)
        return
      }
      const m = { ...desc, file: file(desc.digest), depth }
      manifests.set(desc.digest, m)
      const json = JSON.parse(await fsp.readFile(m.file, 'utf8'))
      for (const child of json.manifests ?? []) await visit(child, depth + 1)
      if (json.config) await visit(json.config, depth + 1)
      for (const l of json.layers ?? []) await visit(l, depth + 1)
    } else if (!blobs.has(desc.digest)) {
      blobs.set(desc.digest, { ...desc, file: file(desc.digest) })
    }
  }
  /** @type {(Descriptor & { annotations?: Record<string, string> })[]} */
  const entries = index.manifests
  for (const e of entries) await visit(e, 0)
  const root = entries[0]
  return {
    root: { mediaType: root.mediaType, digest: root.digest, size: root.size },
    manifests: [...manifests.values()].sort((a, b) => b.depth - a.depth), // children first
    tags: entries.map((e) => ({
      tag: e.annotations?.['org.opencontainers.image.ref.name'] ?? TAG,
      manifest: /** @type {WireManifest} */ (manifests.get(e.digest))
    })),
    blobs: [...blobs.values()],
    blobBytes: [...blobs.values()].reduce((s, b) => s + b.size, 0)
  }
}

/**
 * Generates (or finds cached) each named layout under .bench/.
 * @param {Iterable<string>} names e.g. `1g.tar`, `1g-dir`
 * @returns {Promise<Record<string, LayoutInfo>>}
 */
export async function ensureLayouts(names) {
  await fsp.mkdir(BENCH_DIR, { recursive: true })
  const wanted = new Set(names)
  /** @type {Record<string, LayoutInfo>} */
  const out = {}
  const rank = (/** @type {string} */ n) => LAYOUT_ORDER.indexOf(n) >>> 0 // unlisted: last
  for (const name of [...wanted].sort((a, b) => rank(a) - rank(b))) {
    const [family, kind] = name.split(/[.-]/)
    const spec = FAMILIES[family]
    const p = path.join(BENCH_DIR, name)
    const t0 = performance.now()
    const r = await generateLayout({
      out: p,
      format: kind === 'dir' ? 'dir' : 'tar',
      platforms: spec.platforms,
      layers: spec.layers,
      sharedBase: spec.sharedBase,
      tags: spec.images ? imageTags(spec.images) : [TAG],
      seed: spec.seed,
      cache: true,
      images: spec.images
    })
    const s = (performance.now() - t0) / 1000
    console.log(
      `layout ${name}: ${gib(r.blobBytes)} of blobs, ${r.digest}${s > 1 ? ` (generated in ${s.toFixed(0)} s)` : ' (cached)'}`
    )
    const refs = spec.images
      ? r.tags.map((tag, i) => ({
          tag,
          digest: /** @type {{ digest: string }} */ (r.manifests[i]).digest
        }))
      : [{ tag: TAG, digest: r.digest }]
    out[name] = { ...r, refs }
  }
  return out
}

/**
 * Reads index.json of a layout directory or (uncompressed) tar and returns its first digest.
 * @param {string} p
 * @returns {Promise<string | null>}
 */
export async function layoutDigest(p) {
  return (await readIndexJson(p))?.manifests?.[0]?.digest ?? null
}

/**
 * What each tag names in the index.json of a layout directory or tar: those of `refs` missing or
 * wrong, as a line (null when all are right).
 * @param {string} p
 * @param {Ref[]} refs
 */
export async function checkLayoutRefs(p, refs) {
  /** @type {Map<string, string>} */
  const got = new Map()
  for (const m of (await readIndexJson(p))?.manifests ?? [])
    got.set(m.annotations?.['org.opencontainers.image.ref.name'] ?? '', m.digest)
  const bad = refs.filter((r) => got.get(r.tag) !== r.digest)
  return bad.length
    ? `pulled layout: ${bad.length} of ${refs.length} tags missing or wrong (${bad[0].tag}: ${got.get(bad[0].tag) ?? 'none'}, want ${bad[0].digest})`
    : null
}

/**
 * index.json of a layout directory or (uncompressed) tar, parsed, or null.
 * @param {string} p
 * @returns {Promise<{ manifests?: (Descriptor & { annotations?: Record<string, string> })[] } | null>}
 */
async function readIndexJson(p) {
  const st = await fsp.stat(p)
  const text = st.isDirectory()
    ? await fsp.readFile(path.join(p, 'index.json'), 'utf8')
    : await tarIndexJson(p)
  return text ? JSON.parse(text) : null
}

/**
 * index.json of a tar, found by walking its headers (ustar prefix, GNU long names, pax paths).
 * @param {string} p
 */
async function tarIndexJson(p) {
  const fh = await fsp.open(p, 'r')
  try {
    const hdr = Buffer.alloc(512)
    let pos = 0
    /** @type {string | null} */
    let longName = null
    for (;;) {
      const { bytesRead } = await fh.read(hdr, 0, 512, pos)
      if (bytesRead < 512 || hdr.every((b) => b === 0)) return null
      const size = parseTarSize(hdr)
      const type = String.fromCharCode(hdr[156])
      let name = hdr.toString('utf8', 0, 100).replace(/\0.*$/s, '')
      const prefix = hdr.toString('utf8', 345, 500).replace(/\0.*$/s, '')
      if (prefix) name = `${prefix}/${name}`
      if (type === 'x' || type === 'L') {
        const body = Buffer.alloc(size)
        await fh.read(body, 0, size, pos + 512)
        const s = body.toString('utf8')
        longName =
          type === 'L' ? s.replace(/\0.*$/s, '') : (/ path=([^\n]*)\n/.exec(s)?.[1] ?? null)
      } else {
        if (longName) name = longName
        longName = null
        if (name.replace(/^\.?\//, '') === 'index.json') {
          const body = Buffer.alloc(size)
          await fh.read(body, 0, size, pos + 512)
          return body.toString('utf8')
        }
      }
      pos += 512 + Math.ceil(size / 512) * 512
    }
  } finally {
    await fh.close()
  }
}

/** @param {Buffer} hdr a tar header: octal size, or base-256 when its top bit is set */
function parseTarSize(hdr) {
  if (hdr[124] & 0x80) return Number(hdr.readBigUInt64BE(128))
  return parseInt(hdr.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8)
}
