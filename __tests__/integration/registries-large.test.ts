// A layer over 256 MiB (CUDA, JDK and model layers are common) through every registry persona
// with default inputs: pushed and pulled, the digest checked on the registry itself, each byte
// sent about once, and no request repeated unchanged after a 4xx. Slow: ~300 MiB per persona.
import { readdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { pull } from '../../src/transfer/pull.js'
import { push } from '../../src/transfer/push.js'
import { repeatedAfter4xx, type Exchange } from '../helpers/exchanges.js'
import { generateLayout } from '../helpers/generate.js'
import { PERSONAS, startPersona, type Persona } from '../helpers/personas.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'

const MiB = 1024 * 1024
/** Above the old 256 MiB chunk default, and not a multiple of any chunk size. */
const LAYER = 300 * MiB + 12_345
const USER = 'ci'
const PASS = 'large-secret'
const CREDS = `${USER}:${PASS}`
const auth = { username: USER, password: PASS }

let work: string
let image: { path: string; digest: string }

beforeAll(async () => {
  work = await tmpDir('persona-large-')
  image = await generateLayout({
    out: path.join(work, 'large.tar'),
    format: 'tar',
    layers: [LAYER, 2048],
    tags: ['v1'],
    seed: 11
  })
}, 120_000)
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true })
})

/** PATCHes the registry accepted, in order: their ranges must tile the blob exactly once. */
function acceptedRanges(exchanges: Exchange[]): [number, number][] {
  return exchanges
    .filter((e) => e.method === 'PATCH' && e.status >= 200 && e.status < 300)
    .sort((a, b) => a.start - b.start)
    .map((e) => e.range.split('-').map(Number) as [number, number])
}

function expectTiling(ranges: [number, number][], size: number, maxChunk: number): void {
  let next = 0
  for (const [from, to] of ranges) {
    expect(from).toBe(next)
    expect(to - from + 1).toBeLessThanOrEqual(maxChunk)
    next = to + 1
  }
  expect(next).toBe(size)
}

async function withPersona(
  name: (typeof PERSONAS)[number],
  body: (persona: Persona, reg: TestRegistry) => Promise<void>
): Promise<void> {
  const reg = await startRegistry({ users: { [USER]: PASS } })
  const persona = await startPersona(name, reg.host, CREDS)
  try {
    await body(persona, reg)
  } finally {
    await persona.stop()
    await reg.stop()
  }
}

describe.each(PERSONAS)('a 300 MiB layer through persona %s, default inputs', (name) => {
  it('is pushed and pulled byte for byte, each byte sent about once', async () => {
    await withPersona(name, async (persona, reg) => {
      const pushed = await push({
        ...auth,
        layout: `${image.path}:v1`,
        registry: persona.host,
        reference: `${name}/large:v1`
      })
      expect(pushed.digest).toBe(image.digest)
      expect(await remoteDigest(`${reg.host}/${name}/large:v1`, CREDS)).toBe(image.digest)
      expect(persona.log.bodyBytes()).toBeLessThanOrEqual(1.1 * pushed.bytesTotal)
      expect(repeatedAfter4xx(persona.log.all)).toEqual([])

      const mark = persona.log.all.length
      const dir = path.join(work, `pulled-${name}`)
      try {
        const pulled = await pull({
          ...auth,
          layout: dir,
          registry: persona.host,
          reference: `${name}/large:v1`
        })
        expect(pulled.digest).toBe(image.digest)
        const sizes = await Promise.all(
          (await readdir(path.join(dir, 'blobs', 'sha256'))).map(
            async (f) => (await stat(path.join(dir, 'blobs', 'sha256', f))).size
          )
        )
        expect(Math.max(...sizes)).toBeGreaterThan(LAYER)
        expect(repeatedAfter4xx(persona.log.since(mark))).toEqual([])
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  })
})

describe('registries that need the upload adapted', () => {
  it('GHCR with chunk-size 256MiB: one 416, then 4 MiB chunks tiling the layer once', async () => {
    await withPersona('ghcr', async (persona, reg) => {
      const pushed = await push({
        ...auth,
        layout: `${image.path}:v1`,
        registry: persona.host,
        reference: 'ghcr/chunked:v1',
        chunkSize: 256 * MiB
      })
      expect(await remoteDigest(`${reg.host}/ghcr/chunked:v1`, CREDS)).toBe(image.digest)
      expect(persona.counts['patch-too-large']).toBe(1)
      const ranges = acceptedRanges(persona.log.all)
      expectTiling(ranges, ranges.at(-1)![1] + 1, 4 * MiB)
      expect(ranges.at(-1)![1] + 1).toBeGreaterThan(LAYER)
      expect(persona.log.bodyBytes()).toBeLessThanOrEqual(1.1 * pushed.bytesTotal)
      expect(repeatedAfter4xx(persona.log.all)).toEqual([])
    })
  })

  it('a 100 MB body limit: one 413, then 16 MiB chunks tiling the layer once', async () => {
    await withPersona('cdn100mb', async (persona, reg) => {
      const pushed = await push({
        ...auth,
        layout: `${image.path}:v1`,
        registry: persona.host,
        reference: 'cdn/large:v1'
      })
      expect(await remoteDigest(`${reg.host}/cdn/large:v1`, CREDS)).toBe(image.digest)
      expect(persona.counts['body-too-large']).toBe(1)
      const ranges = acceptedRanges(persona.log.all)
      expectTiling(ranges, ranges.at(-1)![1] + 1, 16 * MiB)
      expect(ranges.at(-1)![1] + 1).toBeGreaterThan(LAYER)
      expect(persona.log.bodyBytes()).toBeLessThanOrEqual(1.1 * pushed.bytesTotal)
      expect(repeatedAfter4xx(persona.log.all)).toEqual([])
    })
  })
})
