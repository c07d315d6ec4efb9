// Network faults, injected by a proxy in front of the real registry: the action finishes correct
// work or fails clearly, and never leaves a tag on an incomplete image.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import type http from 'node:http'
import path from 'node:path'
import { promisify } from 'node:util'
import { pull } from '../../src/transfer/pull.js'
import { push } from '../../src/transfer/push.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'
import { checkLayout } from '../helpers/verify.js'

const execFileP = promisify(execFile)
const ACCEPT = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json'

const debug = (line: string): void => {
  if (process.env.DEBUG_FAULTS) console.log(line)
}

interface Sample {
  path: string
  digest: string
}

async function makeSample(dir: string): Promise<Sample> {
  const out = path.join(dir, 'sample.tar')
  const { stdout } = await execFileP(process.execPath, [
    'scripts/gen-layout.mjs',
    '--out',
    out,
    '--format',
    'tar',
    '--platforms',
    'linux/amd64,linux/arm64',
    '--layers',
    '5000000,1000000,200000',
    '--shared-base',
    '--attestations',
    '--tags',
    'v1',
    '--seed',
    '7'
  ])
  return { path: out, digest: (JSON.parse(stdout) as { digest: string }).digest }
}

/** A small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

type Fault = '503' | '429' | 'cut-response' | 'cut-request' | 'slow' | 'reset-before'

/**
 * The draws for one request, from the seed, the request (upload session ids left out) and how
 * many times that request was seen: the same faults for the same requests whatever their order,
 * so a failing round replays.
 */
function requestDraws(seed: number, seen: Map<string, number>, req: http.IncomingMessage) {
  const key = `${req.method} ${(req.url ?? '').split('?')[0].replace(/\/uploads\/[^/]+$/, '/uploads/*')}`
  const n = seen.get(key) ?? 0
  seen.set(key, n + 1)
  const h = createHash('sha256').update(`${seed}|${key}|${n}`).digest()
  return prng(h.readUInt32BE(0))
}

/** Injects faults into a share of requests; every Location the registry sends becomes relative. */
function faultInjector(seed: number, rate: number, counts: Record<string, number>) {
  const seen = new Map<string, number>()
  const relative = (
    status: number,
    headers: http.IncomingHttpHeaders
  ): { status: number; headers: http.IncomingHttpHeaders } => {
    if (typeof headers.location === 'string') {
      const u = new URL(headers.location, 'http://x')
      headers.location = u.pathname + u.search
    }
    return { status, headers }
  }
  return async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    p: TestProxy
  ): Promise<boolean> => {
    const rand = requestDraws(seed, seen, req)
    const hasBody = req.method === 'PUT' || req.method === 'PATCH'
    const bigGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')
    if (req.url === '/v2/' || rand() >= rate) {
      p.forward(req, res, { mapResponse: relative })
      return true
    }
    const kinds: Fault[] = ['503', '503', 'slow', 'reset-before']
    if (rand() < 0.15) kinds.push('429')
    if (hasBody && Number(req.headers['content-length']) > 1000)
      kinds.push('cut-request', 'cut-request')
    if (bigGet) kinds.push('cut-response', 'cut-response')
    const kind = kinds[Math.floor(rand() * kinds.length)]
    counts[kind] = (counts[kind] ?? 0) + 1
    counts.total = (counts.total ?? 0) + 1
    switch (kind) {
      case '503':
        req.resume()
        res.writeHead(503, { 'content-type': 'application/json' })
        res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}')
        return true
      case '429':
        req.resume()
        res.writeHead(429, { 'retry-after': '1' })
        res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"injected"}]}')
        return true
      case 'reset-before':
        req.socket.destroy()
        return true
      case 'slow':
        await new Promise((r) => setTimeout(r, 300))
        p.forward(req, res, { mapResponse: relative })
        return true
      case 'cut-request':
        p.forward(req, res, {
          cutRequestAfter: Math.floor(Number(req.headers['content-length']) * rand())
        })
        return true
      case 'cut-response':
        p.forward(req, res, { cutAfter: 1000 + Math.floor(rand() * 100_000) })
        return true
    }
    return false
  }
}

async function tagStatus(host: string, repo: string, tag: string): Promise<number> {
  return (
    await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { Accept: ACCEPT }
    })
  ).status
}

describe('through a fault-injecting proxy', () => {
  let reg: TestRegistry
  let sample: Sample
  let work: string
  const counts: Record<string, number> = {}
  const runs = { push: 0, pull: 0 }
  beforeAll(async () => {
    reg = await startRegistry()
    work = await tmpDir('faults-')
    sample = await makeSample(work)
    // What the single-fault tests pull, pushed without faults so each test runs alone.
    await push({ layout: `${sample.path}:v1`, registry: reg.host, reference: 'faults/base:v1' })
  })
  afterAll(async () => {
    await reg.stop()
    // Figures for the closing note.
    console.log(
      `fault runs: ${runs.push} pushes, ${runs.pull} pulls; faults injected: ${JSON.stringify(counts)}`
    )
  })

  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'push and pull round %i end with the right digest',
    async (round) => {
      const injected: Record<string, number> = {}
      const proxy = await startProxy(reg.host, faultInjector(round * 7919, 0.2, injected))
      try {
        // Half the rounds upload in 256 KiB chunks, so chunk failures resume from what the registry holds.
        const chunkSize = round % 2 === 0 ? 256 * 1024 : undefined
        const repo = `faults/r${round}`
        const pushed = await push({
          layout: `${sample.path}:v1`,
          registry: proxy.host,
          reference: `${repo}:v1`,
          chunkSize,
          // Every retry, by the client, an upload or a download, is told here.
          onNotice: (l) => debug(l)
        })
        runs.push++
        expect(pushed.digest).toBe(sample.digest)
        // Checked directly at the registry, and by skopeo.
        expect(await remoteDigest(`${reg.host}/${repo}:v1`)).toBe(sample.digest)
        const dir = path.join(work, `pull-${round}`)
        const pulled = await pull({ registry: proxy.host, reference: `${repo}:v1`, layout: dir })
        runs.pull++
        expect(pulled.digest).toBe(sample.digest)
        await checkLayout(dir)
        // A round that injected nothing proved nothing: each injects faults of several kinds.
        debug(`round ${round}: ${JSON.stringify(injected)}`)
        expect(injected.total).toBeGreaterThanOrEqual(3)
        expect(Object.keys(injected).filter((k) => k !== 'total').length).toBeGreaterThanOrEqual(2)
        expect(Object.values(injected).reduce((a, b) => a + b, 0)).toBe(2 * injected.total)
      } finally {
        await proxy.stop()
        for (const [k, v] of Object.entries(injected)) counts[k] = (counts[k] ?? 0) + v
      }
    },
    120_000
  )

  it('with more faults than the retry budget, fails clearly and tags nothing', async () => {
    // Every blob upload fails; manifests and tags would come after.
    const proxy = await startProxy(reg.host, (req, res) => {
      if (req.method === 'PUT' && req.url?.includes('/blobs/uploads/')) {
        req.resume()
        res.writeHead(503)
        res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected outage"}]}')
        return true
      }
      return false
    })
    try {
      const err = await push({
        layout: `${sample.path}:v1`,
        registry: proxy.host,
        reference: 'faults/broken:v1',
        retries: 2
      }).catch((e: unknown) => e)
      expect(String(err)).toMatch(
        /uploading sha256:[a-f0-9]{64} failed: UNAVAILABLE: injected outage/
      )
      expect(await tagStatus(reg.host, 'faults/broken', 'v1')).toBe(404)
      expect(await tagStatus(reg.host, 'faults/broken', sample.digest)).toBe(404)
    } finally {
      await proxy.stop()
    }
  }, 60_000)

  it('honours Retry-After', async () => {
    let first = 0
    let second = 0
    let n = 0
    const proxy = await startProxy(reg.host, (req, res, p) => {
      // A pull resolves its tag with one GET.
      if (req.method !== 'GET' || !req.url?.includes('/manifests/v1')) return false
      if (n++ === 0) {
        first = Date.now()
        res.writeHead(429, { 'retry-after': '2' })
        res.end()
        return true
      }
      second = Date.now()
      p.forward(req, res)
      return true
    })
    try {
      await pull({
        registry: proxy.host,
        reference: 'faults/base:v1',
        layout: path.join(work, 'retry-after')
      })
      expect(second - first).toBeGreaterThanOrEqual(1900)
    } finally {
      await proxy.stop()
    }
  })

  it('resolves relative and port-less Locations, accepts 201 on PATCH, honours OCI-Chunk-Min-Length, and falls back to chunks on 413', async () => {
    const patches: number[] = []
    const proxy = await startProxy(reg.host, (req, res, p) => {
      const port = p.host.split(':')[1]
      if (req.method === 'PUT' && Number(req.headers['content-length']) > 500_000) {
        req.resume()
        res.writeHead(413)
        res.end()
        return true
      }
      if (req.method === 'PATCH') patches.push(Number(req.headers['content-length']))
      p.forward(req, res, {
        mapResponse: (status, headers) => {
          if (typeof headers.location === 'string' && req.method === 'POST') {
            // A Location naming the host without its port.
            headers.location = headers.location.replace(`:${port}`, '')
            headers['oci-chunk-min-length'] = String(1024 * 1024)
          }
          return { status: req.method === 'PATCH' && status === 202 ? 201 : status, headers }
        }
      })
      return true
    })
    try {
      const r = await push({
        layout: `${sample.path}:v1`,
        registry: proxy.host,
        reference: 'faults/quirks:v1',
        chunkSize: 256 * 1024
      })
      expect(r.digest).toBe(sample.digest)
      expect(await remoteDigest(`${reg.host}/faults/quirks:v1`)).toBe(sample.digest)
      expect(patches.length).toBeGreaterThan(0)
      // Every chunk but a blob's last is at least the announced minimum.
      expect(patches.filter((n) => n >= 1024 * 1024).length).toBeGreaterThan(0)
    } finally {
      await proxy.stop()
    }
  })

  it('computes the digest when a manifest answer lacks Docker-Content-Digest', async () => {
    const proxy = await startProxy(reg.host, (req, res, p) => {
      p.forward(req, res, {
        mapResponse: (status, headers) => {
          delete headers['docker-content-digest']
          return { status, headers }
        }
      })
      return true
    })
    try {
      const r = await pull({
        registry: proxy.host,
        reference: 'faults/base:v1',
        layout: path.join(work, 'no-digest')
      })
      expect(r.digest).toBe(sample.digest)
    } finally {
      await proxy.stop()
    }
  })

  it('a retried pull completes what an interrupted one left', async () => {
    const dir = path.join(work, 'resume-pull')
    const cutting = await startProxy(reg.host, (req, res, p) => {
      if (req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')) {
        p.forward(req, res, { cutAfter: 5000 })
        return true
      }
      return false
    })
    try {
      await expect(
        pull({ registry: cutting.host, reference: 'faults/base:v1', layout: dir, retries: 1 })
      ).rejects.toThrow()
    } finally {
      await cutting.stop()
    }
    const r = await pull({ registry: reg.host, reference: 'faults/base:v1', layout: dir })
    expect(r.digest).toBe(sample.digest)
    await checkLayout(dir)
  })
})
