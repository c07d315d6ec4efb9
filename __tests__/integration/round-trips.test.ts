// What a push costs in requests as blobs get many and small: a small blob is asked about by the
// request that opens its upload (a mount from the repository itself), and small blobs move wider
// than large ones. Each test counts what the registry saw through a proxy.
import type http from 'node:http'
import path from 'node:path'
import type { CopyEvent } from '../../src/copy/copy.js'
import { push } from '../../src/transfer/push.js'
import { generateLayout } from '../helpers/generate.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { headStatus, startRegistry, type TestRegistry } from '../helpers/registry.js'
import { caught } from '../helpers/settle.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'

const count = (p: TestProxy, method: string, match: RegExp): number =>
  p.log.filter((r) => r.method === method && match.test(r.url)).length

/** POSTs that ask whether `repo` holds a blob: a mount from itself. */
const asking = (repo: string): RegExp =>
  new RegExp(`/v2/${repo}/blobs/uploads/\\?mount=[^&]+&from=${encodeURIComponent(repo)}$`)

const isAsking = (req: http.IncomingMessage): boolean => {
  const url = new URL(req.url ?? '', 'http://x')
  return req.method === 'POST' && url.searchParams.get('mount') !== null
}

describe('round trips per blob', () => {
  let reg: TestRegistry
  let work: string
  /** 20 layers of 4 KiB: 21 small blobs with the config. */
  let small: { path: string; digest: string }
  beforeAll(async () => {
    reg = await startRegistry()
    work = await tmpDir('round-trips-')
    small = await generateLayout({
      out: path.join(work, 'small.tar'),
      format: 'tar',
      layers: Array<number>(20).fill(4096),
      tags: ['v1'],
      seed: 31
    })
  })
  afterAll(async () => {
    await reg.stop()
  })

  it('a small blob costs the POST that asks and the PUT, with no HEAD before', async () => {
    const proxy = await startProxy(reg.host)
    try {
      const r = await push({
        layout: `${small.path}:v1`,
        registry: proxy.host,
        reference: 'rt/fresh:v1'
      })
      expect(r.digest).toBe(small.digest)
      expect(await remoteDigest(`${reg.host}/rt/fresh:v1`)).toBe(small.digest)
      expect(count(proxy, 'HEAD', /\/blobs\//)).toBe(0)
      expect(count(proxy, 'POST', asking('rt/fresh'))).toBe(21)
      expect(count(proxy, 'POST', /\/blobs\/uploads\/$/)).toBe(0)
      expect(count(proxy, 'PUT', /\/blobs\/uploads\//)).toBe(21)
    } finally {
      await proxy.stop()
    }
  })

  it('a large blob is still asked about by HEAD', async () => {
    const large = await generateLayout({
      out: path.join(work, 'large.tar'),
      format: 'tar',
      layers: [2_000_000],
      tags: ['v1'],
      seed: 32
    })
    const proxy = await startProxy(reg.host)
    try {
      await push({ layout: `${large.path}:v1`, registry: proxy.host, reference: 'rt/large:v1' })
      // The layer by HEAD; the config (small) by the POST that opens its upload.
      expect(count(proxy, 'HEAD', /\/blobs\//)).toBe(1)
      expect(count(proxy, 'POST', asking('rt/large'))).toBe(1)
      expect(await remoteDigest(`${reg.host}/rt/large:v1`)).toBe(large.digest)
    } finally {
      await proxy.stop()
    }
  })

  /** A first push whose manifest is refused leaves the blobs in `repo` without the image. */
  async function leaveBlobs(repo: string): Promise<void> {
    const refusing = await startProxy(reg.host, (req, res) => {
      if (req.method !== 'PUT' || !(req.url ?? '').includes('/manifests/')) return false
      req.resume()
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end('{"errors":[{"code":"MANIFEST_INVALID","message":"injected"}]}')
      return true
    })
    try {
      const err = await caught(
        push({ layout: `${small.path}:v1`, registry: refusing.host, reference: `${repo}:v1` })
      )
      expect(String(err)).toMatch(/MANIFEST_INVALID/)
    } finally {
      await refusing.stop()
    }
  }

  it('small blobs the repository holds are found by that POST and not sent again', async () => {
    await leaveBlobs('rt/again')
    const proxy = await startProxy(reg.host)
    const outcomes: string[] = []
    try {
      const r = await push({
        layout: `${small.path}:v1`,
        registry: proxy.host,
        reference: 'rt/again:v1',
        onEvent: (e: CopyEvent) => {
          if (e.type === 'blob') outcomes.push(e.outcome)
        }
      })
      expect(r.digest).toBe(small.digest)
      expect(outcomes).toEqual(Array<string>(21).fill('exists'))
      expect(count(proxy, 'POST', asking('rt/again'))).toBe(21)
      expect(count(proxy, 'PUT', /\/blobs\/uploads\//)).toBe(0)
      expect(count(proxy, 'DELETE', /./)).toBe(0)
      expect(await remoteDigest(`${reg.host}/rt/again:v1`)).toBe(small.digest)
    } finally {
      await proxy.stop()
    }
  })

  it('a registry that refuses the asking POST is asked the plain way, and by HEAD after', async () => {
    let refused = 0
    const proxy = await startProxy(reg.host, (req, res) => {
      if (!isAsking(req)) return false
      refused++
      req.resume()
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end('{"errors":[{"code":"UNSUPPORTED","message":"no mounts here"}]}')
      return true
    })
    try {
      const r = await push({
        layout: `${small.path}:v1`,
        registry: proxy.host,
        reference: 'rt/plain:v1',
        // Four small blobs at once: the first four decide before the refusal is learned.
        concurrency: 1
      })
      expect(r.digest).toBe(small.digest)
      expect(await remoteDigest(`${reg.host}/rt/plain:v1`)).toBe(small.digest)
      // The first upload of a repository goes alone, so the refusal is met once and learned.
      expect(refused).toBe(1)
      expect(count(proxy, 'POST', /\/blobs\/uploads\/$/)).toBe(21)
      // Blobs that had not started yet are asked about by HEAD again.
      expect(count(proxy, 'HEAD', /\/blobs\//)).toBe(17)
    } finally {
      await proxy.stop()
    }
  })

  it('a blob the registry said it held is sent when the manifest is refused for lacking it', async () => {
    let lied = 0
    let target = ''
    const proxy = await startProxy(reg.host, (req, res) => {
      if (!isAsking(req)) return false
      const digest = new URL(req.url ?? '', 'http://x').searchParams.get('mount') ?? ''
      // The first blob asked about is claimed, once, without being there.
      target ||= digest
      if (digest !== target || lied > 0) return false
      lied++
      req.resume()
      res.writeHead(201, { 'docker-content-digest': digest, 'content-length': '0' })
      res.end()
      return true
    })
    try {
      const r = await push({
        layout: `${small.path}:v1`,
        registry: proxy.host,
        reference: 'rt/lied:v1'
      })
      expect(r.digest).toBe(small.digest)
      expect(lied).toBe(1)
      expect(await remoteDigest(`${reg.host}/rt/lied:v1`)).toBe(small.digest)
      // Sent after all with a plain upload: a POST that does not ask, then its PUT.
      expect(count(proxy, 'POST', /\/blobs\/uploads\/$/)).toBe(1)
      expect(count(proxy, 'PUT', /\/blobs\/uploads\//)).toBe(21)
    } finally {
      await proxy.stop()
    }
  })

  it('a push to two registries asks each about a small blob while opening its upload', async () => {
    const other = await startRegistry()
    const here = await startProxy(reg.host)
    const there = await startProxy(other.host)
    try {
      const r = await push({
        layout: `${small.path}:v1`,
        registry: here.host,
        reference: 'rt/both:v1',
        tags: [`${there.host}/rt/both:v1`]
      })
      expect(r.digest).toBe(small.digest)
      for (const p of [here, there]) {
        expect(count(p, 'HEAD', /\/blobs\//)).toBe(0)
        expect(count(p, 'POST', asking('rt/both'))).toBe(21)
        expect(count(p, 'PUT', /\/blobs\/uploads\//)).toBe(21)
      }
      expect(await remoteDigest(`${other.host}/rt/both:v1`)).toBe(small.digest)
    } finally {
      await here.stop()
      await there.stop()
      await other.stop()
    }
  })

  it('a registry that ignores the question and refuses a blob it holds is asked by HEAD', async () => {
    await leaveBlobs('rt/ignored')
    let refused = 0
    // As Nexus can: the mount is ignored (a plain session opens), and a PUT of a blob it holds
    // is refused ("cannot be updated").
    const proxy = await startProxy(reg.host, async (req, res, p) => {
      const url = new URL(req.url ?? '', 'http://x')
      if (isAsking(req)) {
        p.forward(req, res, { path: url.pathname })
        return true
      }
      const digest = url.searchParams.get('digest')
      if (req.method !== 'PUT' || !digest) return false
      if ((await headStatus(reg.host, `/v2/rt/ignored/blobs/${digest}`)) !== 200) return false
      refused++
      req.resume()
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end('{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"cannot be updated"}]}')
      return true
    })
    try {
      const r = await push({
        layout: `${small.path}:v1`,
        registry: proxy.host,
        reference: 'rt/ignored:v1'
      })
      expect(r.digest).toBe(small.digest)
      expect(refused).toBe(21)
      expect(count(proxy, 'HEAD', /\/blobs\//)).toBe(21)
      expect(await remoteDigest(`${reg.host}/rt/ignored:v1`)).toBe(small.digest)
    } finally {
      await proxy.stop()
    }
  })

  /** The most blob uploads the proxy held at once; each is held 40 ms so they overlap. */
  async function widest(layout: string, repo: string, concurrency: number): Promise<number> {
    let now = 0
    let most = 0
    const proxy = await startProxy(reg.host, (req, res, p) => {
      if (req.method !== 'PUT' || !(req.url ?? '').includes('/blobs/uploads/')) return false
      now++
      most = Math.max(most, now)
      res.on('close', () => now--)
      setTimeout(() => p.forward(req, res), 40)
      return true
    })
    try {
      await push({
        layout: `${layout}:v1`,
        registry: proxy.host,
        reference: `${repo}:v1`,
        concurrency
      })
      return most
    } finally {
      await proxy.stop()
    }
  }

  it('small blobs move four times as many at once as large ones', async () => {
    const large = await generateLayout({
      out: path.join(work, 'four-large.tar'),
      format: 'tar',
      layers: Array<number>(4).fill(1_200_000),
      tags: ['v1'],
      seed: 33
    })
    const mostSmall = await widest(small.path, 'rt/wide', 2)
    expect(mostSmall).toBeGreaterThan(2)
    expect(mostSmall).toBeLessThanOrEqual(8)
    // The config is small and may move beside them.
    expect(await widest(large.path, 'rt/narrow', 2)).toBeLessThanOrEqual(3)
  })
})
