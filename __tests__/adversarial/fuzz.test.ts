// Fuzzing the layout reader (issue 5): thousands of seeded random mutations of the shared fixture
// tars (byte flips, truncations, header fields rewritten with a valid checksum, PAX records,
// spliced garbage, gzip damage) and of index.json and manifests (random JSON edits), each read
// the whole way a push reads it: LayoutSource.open, resolve, loadGraph and every blob streamed
// through the verifier into an in-memory target (copyGraph → MemoryStore). Every outcome must be
// a result whose content verifies, or an OciError; anything else, a hang, or a file written
// outside the reader's temporary directory fails the test with the mutant's id to reproduce it:
//   FUZZ_ONLY=<id> npm test -- __tests__/fuzz.test.ts     (FUZZ_SEED, FUZZ_SCALE also read)
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { Header } from 'tar'
import { OciError } from '../../src/errors/errors.js'
import { MemoryStore } from '../helpers/memory-store.js'
import { copyGraph } from '../../src/copy/copy.js'
import { LayoutSource } from '../../src/layout/layout-source.js'
import { digestOf, parseDigest } from '../../src/oci/digest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { BUILDX, CORPORA, layoutIn, present } from '../helpers/corpus.js'
import { tmpDir } from '../helpers/skopeo.js'
import { fixChecksum, paxBlock, paxRecord } from '../helpers/tar-build.js'

const BASE_SEED = Number(process.env.FUZZ_SEED ?? 0x5eed0005)
const SCALE = Number(process.env.FUZZ_SCALE ?? 1)
const ONLY = process.env.FUZZ_ONLY
const MUTANT_TIMEOUT_MS = 15_000

/** [name, file]: the made buildx tar, then each corpus's tars. */
const TARS: [string, string][] = present(
  [
    ['buildx-style-multiarch-attest.tar', BUILDX],
    ...CORPORA.flatMap((c) =>
      [
        'buildah-oci-archive.tar',
        'buildah-multiarch-index.tar',
        'containerd-export-hello-world.tar',
        'gnu-tar-dot-prefixed-hello-world.tar',
        'docker-save-v25-hello-world.tar'
      ].map((name): [string, string] => [`${c.name}/${name}`, layoutIn(c, name)])
    )
  ],
  ([, file]) => file
)
/** [name, dir]: each corpus's layout directories. */
const DIRS: [string, string][] = present(
  CORPORA.flatMap((c) =>
    ['regclient-testrepo', 'umoci-two-tags'].map((name): [string, string] => [
      `${c.name}/${name}`,
      layoutIn(c, name)
    ])
  ),
  ([, dir]) => dir
)

// ---------------------------------------------------------------------------------------------
// A small seeded PRNG (mulberry32), one stream per mutant, so any mutant can be run on its own.

interface Rng {
  next(): number
  int(n: number): number
  pick<T>(items: readonly T[]): T
  chance(p: number): boolean
}

function rng(seed: number): Rng {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  return { next, int, pick: (items) => items[int(items.length)], chance: (p) => next() < p }
}

function seedOf(id: string): number {
  let h = BASE_SEED >>> 0
  for (const c of id) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0
  return h
}

// ---------------------------------------------------------------------------------------------
// Tar surgery.

interface TarMember {
  offset: number
  dataOffset: number
  size: number
  path: string
  type: string
}

/** The members of a tar, headers included (PAX and GNU long names too), as far as they parse. */
function members(tar: Buffer): TarMember[] {
  const out: TarMember[] = []
  for (let pos = 0; pos + 512 <= tar.length;) {
    let h: Header
    try {
      h = new Header(tar, pos)
    } catch {
      break
    }
    if (h.nullBlock || !h.cksumValid) break
    const size = Math.max(0, Math.min(h.size ?? 0, tar.length - pos - 512))
    out.push({ offset: pos, dataOffset: pos + 512, size, path: h.path ?? '', type: h.type })
    pos += 512 + Math.ceil(size / 512) * 512
  }
  return out
}

function setField(tar: Buffer, offset: number, at: number, len: number, value: Buffer): void {
  tar.fill(0, offset + at, offset + at + len)
  value.copy(tar, offset + at, 0, Math.min(len, value.length))
}

const octal = (n: number, width: number): Buffer =>
  Buffer.from(`${n.toString(8).padStart(width - 1, '0')}\0`, 'latin1')

/** A base-256 (GNU) number field: 0x80 then big-endian for positive, 0xff two's complement for negative. */
function base256(n: bigint, width: number): Buffer {
  const buf = Buffer.alloc(width)
  let v = n < 0n ? (1n << BigInt(8 * width)) + n : n
  for (let i = width - 1; i > 0; i--) {
    buf[i] = Number(v & 0xffn)
    v >>= 8n
  }
  buf[0] = n < 0n ? 0xff : 0x80
  return buf
}

/** Replaces a member's data (index.json) with new bytes, fixing its size and checksum. */
function replaceData(tar: Buffer, m: TarMember, data: Buffer): Buffer {
  const header = Buffer.from(tar.subarray(m.offset, m.offset + 512))
  setField(header, 0, 124, 12, octal(data.length, 12))
  fixChecksum(header, 0)
  const end = m.dataOffset + Math.ceil(m.size / 512) * 512
  return Buffer.concat([
    tar.subarray(0, m.offset),
    header,
    data,
    Buffer.alloc((512 - (data.length % 512)) % 512),
    tar.subarray(end)
  ])
}

const randomBytes = (r: Rng, n: number): Buffer => {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = r.int(256)
  return b
}

const HOSTILE_NAMES = [
  '../../evil',
  '../canary/evil',
  '/etc/passwd',
  '/tmp/evil',
  'blobs/../../evil',
  'index.json',
  'oci-layout',
  '',
  '.',
  './',
  'blobs/sha256/',
  'a'.repeat(99),
  'C:\\evil',
  '..\\..\\evil'
]

/** One binary mutation of a tar; returns the mutant and what was done, for the report. */
function mutateTar(tar: Buffer, r: Rng): { bytes: Buffer; op: string } {
  const parsed = members(tar)
  // A tar already damaged may have no member left that parses: then treat it as one blob.
  const ms = parsed.length
    ? parsed
    : [{ offset: 0, dataOffset: 0, size: tar.length, path: '?', type: 'File' }]
  const m = r.pick(ms)
  const out = Buffer.from(tar)
  const op = r.int(12)
  switch (op) {
    case 0: {
      const n = 1 + r.int(8)
      for (let i = 0; i < n; i++) out[r.int(out.length)] ^= 1 + r.int(255)
      return { bytes: out, op: `flip ${n} bytes` }
    }
    case 1: {
      // A flip inside one header, checksum fixed so the reader takes it seriously.
      const at = r.int(512)
      out[m.offset + at] ^= 1 + r.int(255)
      if (r.chance(0.8)) fixChecksum(out, m.offset)
      return { bytes: out, op: `flip header byte ${at} of ${m.path}` }
    }
    case 2: {
      const cut = r.chance(0.5) ? r.int(out.length) : 512 * r.int(Math.ceil(out.length / 512))
      return { bytes: out.subarray(0, cut), op: `truncate at ${cut}` }
    }
    case 3: {
      const sizes: [string, Buffer][] = [
        ['0', octal(0, 12)],
        ['1', octal(1, 12)],
        ['huge octal', Buffer.from('77777777777\0')],
        ['garbage', Buffer.from('zz9!--  \0\0\0\0')],
        ['base256 huge', base256(1n << 62n, 12)],
        ['base256 2^53+1', base256((1n << 53n) + 1n, 12)],
        ['base256 -512', base256(-512n, 12)],
        ['base256 -1', base256(-1n, 12)],
        ['size+1', octal(m.size + 1, 12)],
        ['size-1', octal(Math.max(0, m.size - 1), 12)],
        ['file length', octal(tar.length, 12)],
        ['random', octal(r.int(1 << 20), 12)]
      ]
      const [name, value] = r.pick(sizes)
      setField(out, m.offset, 124, 12, value)
      fixChecksum(out, m.offset)
      return { bytes: out, op: `size of ${m.path} := ${name}` }
    }
    case 4: {
      const t = r.pick([
        '0',
        '1',
        '2',
        '3',
        '4',
        '5',
        '6',
        '7',
        'x',
        'g',
        'L',
        'K',
        'S',
        'V',
        'D',
        'M',
        '\0',
        '~'
      ])
      out[m.offset + 156] = t.charCodeAt(0)
      if (t === '1' || t === '2') {
        const target = r.pick([...HOSTILE_NAMES, ...ms.map((x) => x.path)])
        setField(out, m.offset, 157, 100, Buffer.from(target))
      }
      fixChecksum(out, m.offset)
      return { bytes: out, op: `type of ${m.path} := ${JSON.stringify(t)}` }
    }
    case 5: {
      const name = r.pick([...HOSTILE_NAMES, ...ms.map((x) => x.path)])
      setField(out, m.offset, 0, 100, Buffer.from(name))
      if (r.chance(0.3)) setField(out, m.offset, 345, 155, Buffer.from(r.pick(['..', '/', 'x/..'])))
      fixChecksum(out, m.offset)
      return { bytes: out, op: `name of ${m.path} := ${JSON.stringify(name)}` }
    }
    case 6: {
      const records = r.pick([
        paxRecord('size', '-1'),
        paxRecord('size', '1e30'),
        paxRecord('size', '1.5'),
        paxRecord('size', String(r.int(100000))),
        paxRecord('path', r.pick(HOSTILE_NAMES)),
        paxRecord('linkpath', r.pick(HOSTILE_NAMES)),
        paxRecord('path', 'index.json') + paxRecord('size', '0'),
        '999999 path=x\n',
        'garbage without a length\n',
        paxRecord('path', 'x'.repeat(5000))
      ])
      return {
        bytes: Buffer.concat([
          out.subarray(0, m.offset),
          paxBlock(records),
          out.subarray(m.offset)
        ]),
        op: `pax ${JSON.stringify(records.slice(0, 60))} before ${m.path}`
      }
    }
    case 7: {
      const at = r.chance(0.5) ? r.int(out.length) : 512 * r.int(out.length / 512)
      const n = r.chance(0.5) ? 1 + r.int(2048) : 512 * (1 + r.int(4))
      const junk = r.chance(0.3) ? Buffer.alloc(n) : randomBytes(r, n)
      return {
        bytes: Buffer.concat([out.subarray(0, at), junk, out.subarray(at)]),
        op: `splice ${n} ${junk[0] === 0 && junk.every((b) => b === 0) ? 'zero' : 'random'} bytes at ${at}`
      }
    }
    case 8: {
      const a = r.int(out.length)
      const b = Math.min(out.length, a + 1 + r.int(4096))
      return {
        bytes: Buffer.concat([out.subarray(0, a), out.subarray(b)]),
        op: `delete [${a}, ${b})`
      }
    }
    case 9: {
      // A member's header and data repeated at another block boundary.
      const other = r.pick(ms)
      const chunk = out.subarray(m.offset, m.dataOffset + Math.ceil(m.size / 512) * 512)
      return {
        bytes: Buffer.concat([out.subarray(0, other.offset), chunk, out.subarray(other.offset)]),
        op: `repeat ${m.path} before ${other.path}`
      }
    }
    case 10: {
      const a = r.int(out.length)
      const n = 1 + r.int(1024)
      out.fill(0, a, Math.min(out.length, a + n))
      return { bytes: out, op: `zero ${n} bytes at ${a}` }
    }
    default: {
      // Damage inside a member's data (a blob or a manifest): its digest no longer matches.
      if (m.size === 0) return { bytes: out, op: 'nothing' }
      const at = m.dataOffset + r.int(m.size)
      out[at] ^= 1 + r.int(255)
      return { bytes: out, op: `flip data byte of ${m.path}` }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSON surgery.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const HEX64 = 'ab'.repeat(32)
const hostileValues = (r: Rng, known: string[]): Json[] => [
  null,
  true,
  0,
  -1,
  1.5,
  -0.5,
  2 ** 53,
  2 ** 64,
  1e308,
  4 * 1024 * 1024 + 1,
  r.int(1000),
  '',
  'sha256:../../x',
  'sha256:../../../canary/secret',
  `sha256:${'g'.repeat(64)}`,
  `sha256:${HEX64.slice(1)}`,
  `sha256:${HEX64.toUpperCase()}`,
  `sha512:${HEX64}`,
  `md5:${'0'.repeat(32)}`,
  'sha256:',
  `sha256:${HEX64}/../x`,
  'x'.repeat(5000),
  '\u0000\n\r',
  'v1',
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'text/plain',
  [],
  {},
  [1, 'two', null],
  { os: 'linux' },
  JSON.parse(`${'['.repeat(60)}${']'.repeat(60)}`) as Json,
  r.pick(known.length ? known : ['v1'])
]

interface Slot {
  parent: Json[] | { [k: string]: Json }
  key: string | number
}

function slots(v: Json, out: Slot[] = []): Slot[] {
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push({ parent: v, key: i })
      slots(x, out)
    })
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push({ parent: v, key: k })
      slots(x, out)
    }
  }
  return out
}

/** A few random edits of a JSON document; `known` are strings worth swapping in (digests, tags). */
function mutateJson(doc: Json, r: Rng, known: string[]): { doc: Json; ops: string[] } {
  let root = JSON.parse(JSON.stringify(doc)) as Json
  const ops: string[] = []
  const n = 1 + r.int(3)
  for (let i = 0; i < n; i++) {
    const all = slots(root)
    if (!all.length || r.chance(0.03)) {
      root = r.pick(hostileValues(r, known))
      ops.push('replace the whole document')
      continue
    }
    const s = r.pick(all)
    const parent = s.parent as Record<string | number, Json>
    const where = String(s.key)
    switch (r.int(6)) {
      case 0:
        if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1)
        else delete parent[s.key]
        ops.push(`delete ${where}`)
        break
      case 1: {
        // Duplicate an element or swap two values of the document.
        const other = r.pick(all)
        parent[s.key] = JSON.parse(
          JSON.stringify((other.parent as Record<string | number, Json>)[other.key] ?? null)
        ) as Json
        ops.push(`${where} := copy of ${String(other.key)}`)
        break
      }
      case 2:
        if (Array.isArray(parent[s.key])) {
          const list = parent[s.key] as Json[]
          list.push(...list.map((x) => JSON.parse(JSON.stringify(x)) as Json))
          ops.push(`double list ${where}`)
        } else {
          parent[s.key] = [parent[s.key]]
          ops.push(`wrap ${where} in a list`)
        }
        break
      default: {
        const v = r.pick(hostileValues(r, known))
        parent[s.key] = v
        ops.push(`${where} := ${JSON.stringify(v)?.slice(0, 40)}`)
      }
    }
  }
  return { doc: root, ops }
}

/** Serialises, sometimes damaging the text itself. */
function serialise(doc: Json, r: Rng): { text: Buffer; op?: string } {
  let text = JSON.stringify(doc, null, r.chance(0.3) ? 2 : undefined) ?? 'undefined'
  if (r.chance(0.12)) {
    const at = r.int(text.length + 1)
    switch (r.int(3)) {
      case 0:
        text = text.slice(0, at)
        return { text: Buffer.from(text), op: `text cut at ${at}` }
      case 1:
        text =
          text.slice(0, at) + r.pick(['{', '}', '"', ',', '\\', '\u0000', 'NaN']) + text.slice(at)
        return { text: Buffer.from(text), op: `text char inserted at ${at}` }
      default: {
        const bytes = Buffer.from(text)
        if (bytes.length) bytes[at % bytes.length] = 0xff
        return { text: bytes, op: `invalid UTF-8 at ${at}` }
      }
    }
  }
  return { text: Buffer.from(text) }
}

// ---------------------------------------------------------------------------------------------
// Reading a mutant the way push does.

interface Tally {
  mutants: number
  /** Mutants for which at least one selection copied and verified. */
  mutantsWithResult: number
  /** Mutants refused outright by LayoutSource.open. */
  refusedAtOpen: number
  copies: number
  copiesOk: number
  copiesRefused: number
  byClass: Record<string, number>
  byGroup: Record<string, number>
  failures: string[]
}

const tally: Tally = {
  mutants: 0,
  mutantsWithResult: 0,
  refusedAtOpen: 0,
  copies: 0,
  copiesOk: 0,
  copiesRefused: 0,
  byClass: {},
  byGroup: {},
  failures: []
}

class Untyped extends Error {}

function classify(err: unknown): string {
  if (err instanceof OciError) return err.constructor.name
  throw new Untyped(
    err instanceof Error ? `${err.constructor.name}: ${err.message}\n${err.stack}` : String(err)
  )
}

/** Opens, selects and copies; returns true when some copy succeeded and verified. */
async function readMutant(location: string, tempDir: string, r: Rng): Promise<boolean> {
  let src: LayoutSource
  try {
    src = await LayoutSource.open(location, { tempDir })
  } catch (err) {
    const cls = classify(err)
    tally.byClass[cls] = (tally.byClass[cls] ?? 0) + 1
    tally.refusedAtOpen++
    return false
  }
  let any = false
  try {
    const tags = src.tags()
    const refs = new Set([''])
    for (let i = 0; i < 3 && tags.length; i++) refs.add(r.pick(tags))
    if (r.chance(0.3)) refs.add(r.pick(src.index.manifests.map((d) => String(d.digest))))
    for (const ref of refs) {
      tally.copies++
      try {
        const root = await src.resolve(ref)
        const dst = new MemoryStore()
        const result = await copyGraph(src, root, dst, { concurrency: 3 })
        // A success must be right: every stored blob hashes to its name, the whole graph is there.
        for (const [digest, bytes] of dst.blobs) {
          if (digestOf(bytes, parseDigest(digest).algorithm) !== digest)
            throw new Untyped(`copied content does not match ${digest}`)
        }
        if (dst.blobs.size !== result.nodes || !dst.blobs.has(root.digest))
          throw new Untyped(`copied ${dst.blobs.size} blobs for a graph of ${result.nodes}`)
        tally.copiesOk++
        any = true
      } catch (err) {
        if (err instanceof Untyped) throw err
        const cls = classify(err)
        tally.byClass[cls] = (tally.byClass[cls] ?? 0) + 1
        tally.copiesRefused++
      }
    }
  } finally {
    await src.close()
  }
  return any
}

interface Area {
  root: string
  temp: string
  canary: string
  mutantDir: string
}

async function checkArea(area: Area): Promise<void> {
  const leftovers = await readdir(area.temp)
  if (leftovers.length)
    throw new Untyped(`left in the temporary directory: ${leftovers.join(', ')}`)
  const top = (await readdir(area.root)).sort().join(',')
  if (top !== 'canary,m,temp') throw new Untyped(`the work area now holds ${top}`)
  const canary = await readdir(area.canary)
  if (canary.join(',') !== 'secret') throw new Untyped(`the canary directory now holds ${canary}`)
}

/** Runs one mutant under a timeout, recording its outcome; failures are collected, not thrown. */
async function runMutant(
  id: string,
  group: string,
  area: Area,
  make: (r: Rng) => Promise<{ location: string; op: string; cleanup?: () => Promise<void> }>
): Promise<void> {
  if (ONLY !== undefined && ONLY !== id) return
  const r = rng(seedOf(id))
  const { location, op, cleanup } = await make(r)
  tally.mutants++
  tally.byGroup[group] = (tally.byGroup[group] ?? 0) + 1
  let timer: NodeJS.Timeout | undefined
  try {
    const ok = await Promise.race([
      readMutant(location, area.temp, r),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Untyped(`no answer after ${MUTANT_TIMEOUT_MS} ms (a hang)`)),
          MUTANT_TIMEOUT_MS
        )
      })
    ])
    if (ok) tally.mutantsWithResult++
    await checkArea(area)
  } catch (err) {
    tally.failures.push(
      `FUZZ_SEED=${BASE_SEED} FUZZ_ONLY=${id} (${op}): ${err instanceof Error ? err.message : String(err)}`
    )
  } finally {
    clearTimeout(timer)
    await cleanup?.()
  }
}

// ---------------------------------------------------------------------------------------------

const N = (n: number): number => Math.max(1, Math.round(n * SCALE))

let area: Area

beforeAll(async () => {
  const root = await tmpDir('fuzz-')
  area = {
    root,
    temp: path.join(root, 'temp'),
    canary: path.join(root, 'canary'),
    mutantDir: path.join(root, 'm')
  }
  await mkdir(area.temp)
  await mkdir(area.canary)
  await mkdir(area.mutantDir)
  await writeFile(path.join(area.canary, 'secret'), 'must stay as it is\n')
})

afterAll(async () => {
  await rm(area.root, { recursive: true, force: true })
  const classes = Object.entries(tally.byClass)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  const groups = Object.entries(tally.byGroup)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  console.log(
    [
      `fuzz (seed ${BASE_SEED}): ${tally.mutants} mutants (${groups})`,
      `  ${tally.mutantsWithResult} gave at least one verified result, ${tally.refusedAtOpen} were refused at open, the rest on every selection`,
      `  ${tally.copies} selections copied: ${tally.copiesOk} verified, ${tally.copiesRefused} typed errors`,
      `  typed errors by class: ${classes}`,
      `  untyped errors, hangs or writes outside the area: ${tally.failures.length}`
    ].join('\n')
  )
})

describe('fuzzed tars', () => {
  it.each(TARS)('%s: byte, header, PAX and splice mutations', async (name, source) => {
    const failedBefore = tally.failures.length
    const tar = await readFile(source)
    const file = path.join(area.mutantDir, 'layout.tar')
    for (let i = 0; i < N(300); i++) {
      await runMutant(`${name}#bin${i}`, 'tar bytes', area, async (r) => {
        let { bytes, op } = mutateTar(tar, r)
        if (r.chance(0.15)) {
          const again = mutateTar(bytes.length >= 1024 ? bytes : tar, r)
          bytes = again.bytes
          op += `; ${again.op}`
        }
        await writeFile(file, bytes)
        return { location: file, op }
      })
    }
    expect(tally.failures.slice(failedBefore)).toEqual([])
  })

  it.each(TARS)('%s: index.json mutations', async (name, source) => {
    const failedBefore = tally.failures.length
    const tar = await readFile(source)
    const member = members(tar)
      .filter((m) => m.path.replace(/^\.\//, '') === 'index.json')
      .pop()
    if (!member) throw new Error(`${name} has no index.json`)
    const index = JSON.parse(
      tar.subarray(member.dataOffset, member.dataOffset + member.size).toString()
    ) as Json
    const known = members(tar)
      .map((m) => m.path.match(/([0-9a-f]{64})$/)?.[1])
      .filter((h): h is string => h !== undefined)
      .map((h) => `sha256:${h}`)
    const file = path.join(area.mutantDir, 'layout.tar')
    for (let i = 0; i < N(60); i++) {
      await runMutant(`${name}#index${i}`, 'tar index.json', area, async (r) => {
        const { doc, ops } = mutateJson(index, r, known)
        const { text, op } = serialise(doc, r)
        await writeFile(file, replaceData(tar, member, text))
        return { location: file, op: [...ops, op].filter(Boolean).join('; ') }
      })
    }
    expect(tally.failures.slice(failedBefore)).toEqual([])
  })

  it.each(TARS.slice(0, 3))('%s, gzip-compressed: damaged gzip', async (name, source) => {
    const failedBefore = tally.failures.length
    const tar = await readFile(source)
    const gz = gzipSync(tar)
    const file = path.join(area.mutantDir, 'layout.tar.gz')
    for (let i = 0; i < N(60); i++) {
      await runMutant(`${name}#gzip${i}`, 'gzip', area, async (r) => {
        let bytes: Buffer
        let op: string
        const kind = r.int(10)
        if (kind < 3) {
          const m = mutateTar(tar, r)
          bytes = gzipSync(m.bytes)
          op = `gzip of (${m.op})`
        } else if (kind < 5) {
          const cut = r.int(gz.length)
          bytes = gz.subarray(0, cut)
          op = `gzip cut at ${cut}`
        } else if (kind < 6) {
          bytes = Buffer.concat([gz, randomBytes(r, 1 + r.int(64))])
          op = 'garbage after the gzip stream'
        } else {
          bytes = Buffer.from(gz)
          const n = 1 + r.int(4)
          for (let k = 0; k < n; k++) bytes[r.int(bytes.length)] ^= 1 + r.int(255)
          op = `flip ${n} gzip bytes`
        }
        await writeFile(file, bytes)
        return { location: file, op }
      })
    }
    expect(tally.failures.slice(failedBefore)).toEqual([])
  })
})

describe('fuzzed layout directories', () => {
  if (DIRS.length > 0)
    it.each(DIRS)('%s: index.json and manifest mutations', async (name, source) => {
      const failedBefore = tally.failures.length
      const dir = path.join(area.mutantDir, name)
      await cp(source, dir, { recursive: true })
      const indexFile = path.join(dir, 'index.json')
      const indexText = await readFile(indexFile)
      const index = JSON.parse(indexText.toString()) as { manifests: Record<string, Json>[] }
      const known = [
        ...(await readdir(path.join(dir, 'blobs/sha256'))).map((h) => `sha256:${h}`),
        ...index.manifests.map((d) =>
          String(
            (d.annotations as Record<string, string>)?.['org.opencontainers.image.ref.name'] ?? 'v1'
          )
        )
      ]
      const count = name.endsWith('/regclient-testrepo') ? 400 : 200
      for (let i = 0; i < N(count); i++) {
        await runMutant(`${name}#dir${i}`, 'dir JSON', area, async (r) => {
          const written: string[] = []
          const cleanup = async (): Promise<void> => {
            await writeFile(indexFile, indexText)
            for (const f of written) await rm(f, { force: true })
          }
          if (r.chance(0.5)) {
            const { doc, ops } = mutateJson(index, r, known)
            const { text, op } = serialise(doc, r)
            await writeFile(indexFile, text)
            return { location: dir, op: [...ops, op].filter(Boolean).join('; '), cleanup }
          }
          // A manifest edited and stored under its new digest, so the parser (not the hash) sees it.
          const k = r.int(index.manifests.length)
          const entry = index.manifests[k]
          const old = await readFile(path.join(dir, 'blobs/sha256', String(entry.digest).slice(7)))
          const { doc, ops } = mutateJson(JSON.parse(old.toString()) as Json, r, known)
          const { text, op } = serialise(doc, r)
          const digest = digestOf(text)
          const file = path.join(dir, 'blobs/sha256', digest.slice(7))
          if (!known.includes(digest)) written.push(file)
          await writeFile(file, text)
          const next = JSON.parse(JSON.stringify(index)) as typeof index
          next.manifests[k] = { ...entry, digest, size: text.length }
          await writeFile(indexFile, JSON.stringify(next))
          return {
            location: dir,
            op: `manifest of entry ${k}: ${[...ops, op].filter(Boolean).join('; ')}`,
            cleanup
          }
        })
      }
      expect(tally.failures.slice(failedBefore)).toEqual([])
      await rm(dir, { recursive: true, force: true })
    })
})
