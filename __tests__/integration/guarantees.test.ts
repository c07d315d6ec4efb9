// One test per guarantee of the sources that the other tests would not notice losing: a damaged
// blob in a layout pulled into again, tags after every repository, no HTTPS → HTTP redirect, no
// credentials to another origin or in clear to a host beyond loopback, no unverified last bytes
// in a destination, and no manifest the registry rewrote. Each observes what the project does,
// not what the registry would catch by itself.
import { createHash } from 'node:crypto'
import { link, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { pull } from '../../src/transfer/pull.js'
import { push } from '../../src/transfer/push.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { generateLayout } from '../helpers/generate.js'
import { makeImageLayout, readJson, type Desc } from '../helpers/layouts.js'
import { startProxy, type ProxiedRequest, type TestProxy } from '../helpers/proxy.js'
import { headStatus, startRegistry, type TestRegistry } from '../helpers/registry.js'
import { tmpDir } from '../helpers/skopeo.js'
import { makeTestCa } from '../helpers/tls.js'
import { checkLayout } from '../helpers/verify.js'
import { caught } from '../helpers/settle.js'

const creds = { username: 'gina', password: 'gina-pass-7' }
const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
const hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const BLOB = /^\/v2\/(.+)\/blobs\/sha256:([a-f0-9]{64})$/
let reg: TestRegistry
let authReg: TestRegistry
let image: { dir: string; manifest: Desc }
/** The layers (hex → size) of g/big:v1, below and above the size hashed on the slab thread (4 MiB). */
const bigBlobs = new Map<string, number>()
const temps: string[] = []
const proxies: TestProxy[] = []

async function temp(prefix: string): Promise<string> {
  const dir = await tmpDir(prefix)
  temps.push(dir)
  return dir
}

/** A proxy stopped after the test, whatever its outcome. */
async function proxy(...args: Parameters<typeof startProxy>): Promise<TestProxy> {
  const p = await startProxy(...args)
  proxies.push(p)
  return p
}

beforeAll(async () => {
  reg = await startRegistry()
  authReg = await startRegistry({ users: { [creds.username]: creds.password } })
  image = await makeImageLayout({ tag: 'v1', content: 'guarantees\n' })
  temps.push(image.dir)
  await push({ layout: `${image.dir}:v1`, registry: reg.host, reference: 'g/img:v1' })
  const gen = await generateLayout({
    out: path.join(await temp('big-'), 'layout'),
    format: 'dir',
    layers: [600_000, 5_000_000],
    tags: ['v1']
  })
  await push({ layout: `${gen.path}:v1`, registry: reg.host, reference: 'g/big:v1' })
  for (const name of await readdir(path.join(gen.path, 'blobs/sha256'))) {
    const { size } = await stat(path.join(gen.path, 'blobs/sha256', name))
    if (size >= 512 * 1024) bigBlobs.set(name, size)
  }
  expect(bigBlobs.size).toBe(2)
})
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()))
})
afterAll(async () => {
  await reg?.stop()
  await authReg?.stop()
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })))
})

it('a pull into an existing layout fetches again a blob damaged at its right size', async () => {
  const dir = path.join(await temp('g1-'), 'layout')
  await pull({ registry: reg.host, reference: 'g/img:v1', layout: dir })
  const blobs = path.join(dir, 'blobs/sha256')
  const manifest = await readJson<{ layers: Desc[] }>(
    path.join(blobs, image.manifest.digest.slice(7))
  )
  const layer = manifest.layers[0]
  const file = path.join(blobs, layer.digest.slice(7))
  const good = await readFile(file)
  await writeFile(file, Buffer.from(good.map((b) => b ^ 0xff)))
  const outcomes = new Map<string, string>()
  await pull({
    registry: reg.host,
    reference: 'g/img:v1',
    layout: dir,
    onEvent: (e) => {
      if (e.type === 'blob' || e.type === 'manifest') outcomes.set(e.desc.digest, e.outcome)
    }
  })
  expect(outcomes.get(layer.digest)).toBe('uploaded')
  expect(outcomes.get(image.manifest.digest)).toBe('exists')
  await checkLayout(dir)
  for (const name of await readdir(blobs))
    expect(hex(await readFile(path.join(blobs, name)))).toBe(name)
})

it('a push with tags in two repositories tags nothing before both hold the whole image', async () => {
  const p = await proxy(reg.host)
  const r = await push({
    layout: `${BUILDX}:v1`,
    registry: p.host,
    reference: 'g2/first:v1',
    tags: ['v1b', `${p.host}/g2/second:v2`]
  })
  expect(r.digest).toBe(BUILDX_DIGEST)
  const isTag = (l: ProxiedRequest): boolean =>
    l.method === 'PUT' && /^\/v2\/g2\/\w+\/manifests\/(?!sha256:)/.test(l.url)
  const writesSecond = (l: ProxiedRequest): boolean =>
    !['GET', 'HEAD'].includes(l.method) &&
    /^\/v2\/g2\/second\/(blobs\/|manifests\/sha256:)/.test(l.url)
  const tags = p.log.filter(isTag).map((l) => l.url)
  expect(tags.sort()).toEqual([
    '/v2/g2/first/manifests/v1',
    '/v2/g2/first/manifests/v1b',
    '/v2/g2/second/manifests/v2'
  ])
  const lastWrite = p.log.map(writesSecond).lastIndexOf(true)
  expect(lastWrite).toBeGreaterThan(-1)
  expect(p.log.findIndex(isTag)).toBeGreaterThan(lastWrite)
})

it('does not follow a blob redirect from HTTPS to plain HTTP', async () => {
  const ca = await makeTestCa()
  temps.push(ca.dir)
  const target = await proxy(reg.host) // the http:// side: records anything that reaches it
  const front = await proxy(
    reg.host,
    (req, res) => {
      // Large blobs only: they are read straight off the socket, by a client of their own.
      const m = BLOB.exec(req.url ?? '')
      if (req.method !== 'GET' || !m || !bigBlobs.has(m[2])) return false
      res.writeHead(307, { location: `http://${target.host}${req.url}` })
      res.end()
      return true
    },
    { tls: { certificate: ca.serverCert, key: ca.serverKey } }
  )
  const err = await caught(
    pull({
      registry: front.host,
      reference: 'g/big:v1',
      layout: path.join(await temp('g3-'), 'layout'),
      plainHttp: 'false',
      caFile: ca.caCert
    })
  )
  expect(target.log).toEqual([])
  expect(String(err)).toMatch(
    /GET https:\/\/127\.0\.0\.1:\d+: refusing a redirect from HTTPS to http:/
  )
  expect(front.log.some((l) => BLOB.test(l.url))).toBe(true)
})

it('sends no credentials to an upload Location on another origin', async () => {
  // The other origin passes uploads on to the registry with credentials of its own.
  const other = await proxy(authReg.host, (req, res, p) => {
    p.forward(req, res, { headers: { authorization: basic } })
    return true
  })
  const front = await proxy(authReg.host, (req, res, p) => {
    if (req.method !== 'POST' || !/\/blobs\/uploads\/$/.test(req.url?.split('?')[0] ?? ''))
      return false
    p.forward(req, res, {
      mapResponse: (status, headers) => {
        const location = new URL(String(headers.location), `http://${req.headers.host}`)
        location.host = other.host
        return { status, headers: { ...headers, location: location.href } }
      }
    })
    return true
  })
  const r = await push({
    layout: `${image.dir}:v1`,
    registry: front.host,
    reference: 'g4/app:v1',
    credentials: creds
  })
  expect(r.digest).toBe(image.manifest.digest)
  expect(front.log.some((l) => l.authorization === basic)).toBe(true)
  expect(other.log.filter((l) => l.method === 'PUT').length).toBeGreaterThan(0)
  expect(other.log.filter((l) => l.authorization !== undefined)).toEqual([])
})

/** An address of this machine that is not loopback (else its host name, which resolves here). */
function outsideAddress(): string {
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  return os.hostname()
}

it('sends no credentials over plain HTTP to a host that is not loopback', async () => {
  const outside = outsideAddress()
  // A plain-HTTP token service named by that address: refused before it is asked anything.
  const tokens = await proxy(
    reg.host,
    (_req, res) => {
      res.writeHead(500)
      res.end()
      return true
    },
    { bind: outside }
  )
  const front = await proxy(reg.host, (req, res) => {
    if (req.headers.authorization) return false
    res.writeHead(401, {
      'www-authenticate': `Bearer realm="http://${tokens.host}/token",service="g5"`,
      'content-type': 'application/json'
    })
    res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
    return true
  })
  const layout = path.join(await temp('g5-'), 'layout')
  const err = await caught(
    pull({ registry: front.host, reference: 'g/img:v1', layout, credentials: creds })
  )
  expect(tokens.log).toEqual([])
  expect(String(err)).toContain(
    `refusing to send credentials to token service http://${tokens.host} over plain HTTP`
  )
  // A Basic-auth registry named by that address: with plain-http auto it is spoken to over HTTPS
  // only, so this plain-HTTP listener reads a TLS handshake and never a request.
  const named = await proxy(authReg.host, undefined, { bind: outside })
  const err2 = await caught(
    pull({ registry: named.host, reference: 'g/img:v1', layout, credentials: creds, retries: 0 })
  )
  expect(named.log).toEqual([])
  expect(String(err2)).toMatch(/cannot reach registry/)
})

/** A whole body, on a connection of its own (none left open for jest to wait on). */
function getBody(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve(Buffer.concat(chunks)))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}

/**
 * A proxy serving the blobs of `big` with their last 16 bytes flipped, the length unchanged. It
 * holds back those bytes until every such blob is asked for and `beforeTails` has run.
 */
function tamperingProxy(
  upstream: string,
  big: Set<string>,
  tails: Map<string, Buffer>,
  beforeTails: () => Promise<void>
): Promise<TestProxy> {
  let arrived = (): void => {}
  const all = new Promise<void>((r) => (arrived = r))
  let kept: Promise<void> | undefined
  return proxy(upstream, async (req, res) => {
    const m = BLOB.exec(req.url ?? '')
    if (req.method !== 'GET' || !m || !big.has(m[2])) return false
    const body = await getBody(`http://${upstream}${req.url}`)
    const tail = Buffer.from(body.subarray(-16).map((b) => b ^ 0xff))
    tails.set(m[2], tail)
    res.writeHead(200, {
      'content-length': body.length,
      'content-type': 'application/octet-stream',
      'docker-content-digest': `sha256:${m[2]}`
    })
    res.write(body.subarray(0, -16))
    if (tails.size === big.size) arrived()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, 5000)))])
    clearTimeout(timer)
    // A failure here still ends the response, so the pull is not left waiting for ever.
    const ready = (kept ??= beforeTails())
    await ready.finally(() => res.end(tail))
    return true
  })
}

it('a blob whose last bytes are wrong never lands under its name, in a directory or a tar', async () => {
  const work = await temp('g6-')
  for (const kind of ['dir', 'tar'] as const) {
    const out = path.join(work, kind === 'dir' ? 'out' : 'out.tar')
    const kept = path.join(work, `kept-${kind}`)
    await mkdir(kept)
    // Hard links to the files being written (a blob's, named after it; the tar being built), so
    // what they held is there to read after the failed pull removed them.
    // Only the two held-back blobs (or the tar): a manifest's or config's partial file may be
    // renamed to its final name between readdir and link.
    const held = (name: string): boolean =>
      name.endsWith('.partial') &&
      (kind === 'tar' || [...bigBlobs.keys()].some((b) => name.startsWith(`${b}.`)))
    const keep = async (): Promise<void> => {
      const where = kind === 'dir' ? path.join(out, 'blobs/sha256') : work
      for (const name of await readdir(where))
        if (held(name)) await link(path.join(where, name), path.join(kept, name))
    }
    const tails = new Map<string, Buffer>()
    const p = await tamperingProxy(reg.host, new Set(bigBlobs.keys()), tails, keep)
    await expect(pull({ registry: p.host, reference: 'g/big:v1', layout: out })).rejects.toThrow(
      /content does not match its digest/
    )
    expect(tails.size).toBe(2)
    const files = await readdir(kept)
    if (kind === 'dir') {
      for (const [name, size] of bigBlobs) {
        const partials = files.filter((f) => f.startsWith(`${name}.`))
        expect(partials).toHaveLength(1)
        const bytes = await readFile(path.join(kept, partials[0]))
        const landed = bytes.subarray(size - 16, size).equals(tails.get(name) as Buffer)
        expect({ kind, blob: name, landed }).toEqual({ kind, blob: name, landed: false })
        await expect(stat(path.join(out, 'blobs/sha256', name))).rejects.toThrow(/ENOENT/)
      }
      await expect(stat(path.join(out, 'index.json'))).rejects.toThrow(/ENOENT/)
    } else {
      expect(files).toHaveLength(1)
      const tar = await readFile(path.join(kept, files[0]))
      for (const [name, size] of bigBlobs) {
        const header = tar.indexOf(`blobs/sha256/${name}\0`)
        expect(header % 512).toBe(0)
        const end = header + 512 + size
        const landed = tar.subarray(end - 16, end).equals(tails.get(name) as Buffer)
        expect({ kind, blob: name, landed }).toEqual({ kind, blob: name, landed: false })
      }
      expect(tar.indexOf('index.json\0')).toBe(-1)
      expect((await readdir(work)).filter((n) => n.startsWith('out.tar'))).toEqual([])
    }
  }
})

it('a push fails when the registry stored the manifest under another digest', async () => {
  const rewritten = `sha256:${hex(Buffer.from('re-serialised'))}`
  const p = await proxy(reg.host, (req, res, px) => {
    if (req.method !== 'PUT' || !req.url?.includes('/manifests/')) return false
    px.forward(req, res, {
      mapResponse: (status, headers) => ({
        status,
        headers: { ...headers, 'docker-content-digest': rewritten }
      })
    })
    return true
  })
  await expect(
    push({ layout: `${image.dir}:v1`, registry: p.host, reference: 'g7/app:v1' })
  ).rejects.toMatchObject({
    message: `${p.host}/g7/app: the registry stored manifest ${image.manifest.digest} as ${rewritten}`,
    hint: expect.stringMatching(/rewrote the manifest/)
  })
  expect(await headStatus(reg.host, '/v2/g7/app/manifests/v1')).toBe(404)
})
