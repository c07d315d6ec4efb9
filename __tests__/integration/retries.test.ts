// One retry policy, applied where a fault is met: a request the client can send again, a chunk
// the upload resumes, a download cut part way that goes on from the byte it reached. Each test
// counts the requests the registry saw, so attempts that multiply (a retry around a retry) fail.
import { execFile } from 'node:child_process'
import type http from 'node:http'
import path from 'node:path'
import { promisify } from 'node:util'
import { pull } from '../../src/transfer/pull.js'
import { push } from '../../src/transfer/push.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { caught } from '../helpers/settle.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'
import { checkLayout } from '../helpers/verify.js'

const execFileP = promisify(execFile)

interface Sample {
  path: string
  digest: string
  /** The large layer (read in slabs off the socket) and the small one (read from the stream). */
  big: string
  small: string
}

async function makeSample(dir: string): Promise<Sample> {
  const out = path.join(dir, 'sample.tar')
  const { stdout } = await execFileP(process.execPath, [
    'scripts/gen-layout.mjs',
    ...['--out', out, '--format', 'tar', '--layers', '3000000,100000', '--tags', 'v1'],
    ...['--seed', '11']
  ])
  const made = JSON.parse(stdout) as {
    digest: string
    manifests: { layers: { digest: string }[] }[]
  }
  const [big, small] = made.manifests[0].layers.map((l) => l.digest)
  return { path: out, digest: made.digest, big, small }
}

const isBlobGet = (req: http.IncomingMessage, digest: string): boolean =>
  req.method === 'GET' && (req.url ?? '').includes(`/blobs/${digest}`)

const count = (p: TestProxy, method: string, match: RegExp): number =>
  p.log.filter((r) => r.method === method && match.test(r.url)).length

/** Answers with the first `cut` bytes of a blob, then, once they are surely read, drops the connection. */
async function answerCut(res: http.ServerResponse, bytes: Buffer, cut: number): Promise<void> {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(bytes.length)
  })
  res.write(bytes.subarray(0, cut))
  await new Promise((resolve) => setTimeout(resolve, 200))
  res.socket?.destroy()
}

describe('retries', () => {
  let reg: TestRegistry
  let sample: Sample
  let work: string
  beforeAll(async () => {
    reg = await startRegistry()
    work = await tmpDir('retries-')
    sample = await makeSample(work)
    await push({ layout: `${sample.path}:v1`, registry: reg.host, reference: 'rt/base:v1' })
  })
  afterAll(async () => {
    await reg.stop()
  })
  /** A proxy that answers 503 to what `refuse` picks and forwards the rest. */
  const refusing = (refuse: (req: http.IncomingMessage) => boolean): Promise<TestProxy> =>
    startProxy(reg.host, (req, res) => {
      if (!refuse(req)) return false
      req.resume()
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}')
      return true
    })
  const pushVia = (
    proxy: TestProxy,
    repo: string,
    extra: { chunkSize?: number; retries?: number }
  ) =>
    caught(
      push({
        layout: `${sample.path}:v1`,
        registry: proxy.host,
        reference: `rt/${repo}:v1`,
        ...extra
      })
    )
  const blob = async (digest: string): Promise<Buffer> =>
    Buffer.from(await (await fetch(`http://${reg.host}/v2/rt/base/blobs/${digest}`)).arrayBuffer())

  it('a download cut part way goes on from the byte it reached, once per cut', async () => {
    const ranges: Record<string, (string | undefined)[]> = { big: [], small: [] }
    const cuts = { big: 1_000_000, small: 50_000 }
    const bodies = { big: await blob(sample.big), small: await blob(sample.small) }
    const proxy = await startProxy(reg.host, async (req, res, p) => {
      for (const name of ['big', 'small'] as const) {
        if (!isBlobGet(req, sample[name])) continue
        ranges[name].push(req.headers.range)
        if (ranges[name].length === 1) await answerCut(res, bodies[name], cuts[name])
        else p.forward(req, res)
        return true
      }
      return false
    })
    const notices: string[] = []
    try {
      const dir = path.join(work, 'resumed')
      const r = await pull({
        registry: proxy.host,
        reference: 'rt/base:v1',
        layout: dir,
        onNotice: (l) => notices.push(l)
      })
      expect(r.digest).toBe(sample.digest)
      await checkLayout(dir)
      for (const name of ['big', 'small'] as const) {
        expect(ranges[name]).toHaveLength(2)
        expect(ranges[name][0]).toBeUndefined()
        const from = Number(/^bytes=(\d+)-$/.exec(ranges[name][1] ?? '')?.[1])
        expect(from).toBeGreaterThan(0)
        expect(from).toBeLessThanOrEqual(cuts[name])
      }
      expect(notices.filter((l) => / resuming from byte \d+$/.test(l))).toHaveLength(2)
    } finally {
      await proxy.stop()
    }
  })

  it('a registry that ignores Range sends the whole blob again; what was read is passed over', async () => {
    let gets = 0
    const proxy = await startProxy(reg.host, (req, res, p) => {
      if (!isBlobGet(req, sample.big)) return false
      delete req.headers.range
      p.forward(req, res, gets++ === 0 ? { cutAfter: 1_500_000 } : {})
      return true
    })
    try {
      const dir = path.join(work, 'no-range')
      const r = await pull({ registry: proxy.host, reference: 'rt/base:v1', layout: dir })
      expect(r.digest).toBe(sample.digest)
      expect(gets).toBe(2)
      await checkLayout(dir)
    } finally {
      await proxy.stop()
    }
  })

  it('an answer from another byte than asked fails, naming the registry', async () => {
    let gets = 0
    const proxy = await startProxy(reg.host, (req, res, p) => {
      if (!isBlobGet(req, sample.big)) return false
      // The resumed request is answered from byte 0, with a 206 that says so.
      if (gets++ > 0) p.forward(req, res, { headers: { range: 'bytes=0-' } })
      else p.forward(req, res, { cutAfter: 1_000_000 })
      return true
    })
    try {
      const err = await caught(
        pull({ registry: proxy.host, reference: 'rt/base:v1', layout: path.join(work, 'wrong') })
      )
      expect(String(err)).toMatch(
        new RegExp(
          `${sample.big} from .*: asked for the bytes from \\d+ on, the registry answered with bytes 0-`
        )
      )
      expect((err as { hint?: string }).hint).toMatch(/^the registry \(or a proxy in front of it\)/)
      expect(gets).toBe(2)
    } finally {
      await proxy.stop()
    }
  })

  it('a download cut every time is asked for retries + 1 times', async () => {
    const proxy = await startProxy(reg.host, (req, res, p) => {
      if (!isBlobGet(req, sample.big)) return false
      p.forward(req, res, { cutAfter: 1000 })
      return true
    })
    try {
      const err = await caught(
        pull({
          registry: proxy.host,
          reference: 'rt/base:v1',
          layout: path.join(work, 'cut'),
          retries: 2
        })
      )
      expect(err).toBeInstanceOf(Error)
      expect(count(proxy, 'GET', new RegExp(`/blobs/${sample.big}`))).toBe(3)
    } finally {
      await proxy.stop()
    }
  })

  it('a chunk refused every time is sent retries + 1 times, with no restart of the blob around it', async () => {
    const proxy = await refusing((req) => req.method === 'PATCH')
    try {
      // Only the large layer is over the chunk size: every PATCH is its.
      const err = await pushVia(proxy, 'refused', { chunkSize: 256 * 1024, retries: 2 })
      expect(String(err)).toMatch(/uploading sha256:[a-f0-9]{64} failed: UNAVAILABLE: injected/)
      expect(count(proxy, 'PATCH', /\/blobs\/uploads\//)).toBe(3)
      // Asked twice what it holds, once per resume; the session was opened once.
      expect(count(proxy, 'GET', /\/blobs\/uploads\//)).toBe(2)
    } finally {
      await proxy.stop()
    }
  })

  it('an upload session refused every time is asked for retries + 1 times in all', async () => {
    const proxy = await refusing((req) => req.method === 'POST')
    try {
      const err = await pushVia(proxy, 'session', { retries: 2 })
      expect(String(err)).toMatch(/starting the upload of sha256:[a-f0-9]{64} failed: UNAVAILABLE/)
      // The client resends the POST; nothing around it starts the blob over. The other blobs
      // wait for the repository's first session and send nothing once it is refused.
      expect(count(proxy, 'POST', /\/blobs\/uploads\//)).toBe(3)
    } finally {
      await proxy.stop()
    }
  })

  it('a chunked upload that keeps moving outlasts more faults than the budget', async () => {
    const seen = new Set<string>()
    let injected = 0
    // The first try of every chunk fails; its retry goes through.
    const proxy = await refusing((req) => {
      const range = String(req.headers['content-range'])
      if (req.method !== 'PATCH' || seen.has(range)) return false
      seen.add(range)
      injected++
      return true
    })
    try {
      const r = await push({
        layout: `${sample.path}:v1`,
        registry: proxy.host,
        reference: 'rt/moving:v1',
        chunkSize: 256 * 1024,
        retries: 1
      })
      expect(r.digest).toBe(sample.digest)
      expect(await remoteDigest(`${reg.host}/rt/moving:v1`)).toBe(sample.digest)
      expect(injected).toBe(Math.ceil(3_002_636 / (256 * 1024)))
    } finally {
      await proxy.stop()
    }
  })

  it('a blob PUT refused every time is sent retries + 1 times, each in a new session', async () => {
    const bigPut = (url: string): boolean => url.includes(sample.big.replace(':', '%3A'))
    const proxy = await refusing((req) => req.method === 'PUT' && bigPut(req.url ?? ''))
    try {
      const err = await pushVia(proxy, 'put', { retries: 2 })
      expect(String(err)).toMatch(new RegExp(`uploading ${sample.big} failed: UNAVAILABLE`))
      const puts = proxy.log.filter((r) => r.method === 'PUT' && bigPut(r.url))
      expect(puts).toHaveLength(3)
      expect(new Set(puts.map((r) => r.url.split('?')[0])).size).toBe(3)
    } finally {
      await proxy.stop()
    }
  })
})
