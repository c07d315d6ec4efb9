// A push to three registries at once (the reference's, and two more named in `tags`): each blob
// is read from the layout and hashed once whatever the number of registries, every registry ends
// with the whole image (skopeo reads it back), one that fails leaves none tagged, and one whose
// upload is cut is sent that blob again while the others are not.
import { jest } from '@jest/globals'
import type http from 'node:http'
import path from 'node:path'
import type { CopyEvent } from '../../src/copy/copy.js'
import { LayoutSource } from '../../src/layout/layout-source.js'
import type { Descriptor } from '../../src/oci/types.js'
import { push } from '../../src/transfer/push.js'
import { generateLayout } from '../helpers/generate.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { headStatus, startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'

const LAYERS = [3_000_000, 700_000, 50_000]

describe('a push to three registries', () => {
  let regs: TestRegistry[]
  let image: { path: string; digest: string }
  beforeAll(async () => {
    const work = await tmpDir('fan-out-')
    ;[image, ...regs] = await Promise.all([
      generateLayout({
        out: path.join(work, 'app.tar'),
        format: 'tar',
        layers: LAYERS,
        tags: ['v1'],
        seed: 21
      }),
      startRegistry(),
      startRegistry(),
      startRegistry()
    ])
  })
  afterAll(async () => {
    await Promise.all(regs.map((r) => r.stop()))
  })

  /** Blob digests the layout was opened for, with their counts (manifests come from memory). */
  let opened: Map<string, number>
  let spy: ReturnType<typeof jest.spyOn>
  beforeEach(() => {
    opened = new Map()
    const open = LayoutSource.prototype.open
    spy = jest.spyOn(LayoutSource.prototype, 'open').mockImplementation(function (
      this: LayoutSource,
      desc: Descriptor
    ) {
      opened.set(desc.digest, (opened.get(desc.digest) ?? 0) + 1)
      return open.call(this, desc)
    })
  })
  afterEach(() => {
    spy.mockRestore()
  })
  /** How often each layer was opened (a read and a hash each), largest layer first. */
  const layerOpens = (layers: Descriptor[]): number[] =>
    layers.map((l) => opened.get(l.digest) ?? 0)

  /** Pushes `repo:v1` to the three hosts (the first the reference, the others in tags). */
  const pushTo = (hosts: string[], repo: string, extra: { retries?: number } = {}) => {
    const events: CopyEvent[] = []
    const result = push({
      layout: `${image.path}:v1`,
      reference: `${hosts[0]}/${repo}:v1`,
      tags: hosts.slice(1).map((h) => `${h}/${repo}:v1`),
      onEvent: (e) => events.push(e),
      ...extra
    })
    return { result, events }
  }

  /** The layers of the image, read from what the first push reported. */
  const layersOf = (events: CopyEvent[]): Descriptor[] =>
    events
      .filter(
        (e): e is Extract<CopyEvent, { type: 'blob' | 'manifest' }> =>
          e.type === 'blob' && e.desc.mediaType.includes('layer')
      )
      .map((e) => e.desc)
      .filter((d, i, all) => all.findIndex((x) => x.digest === d.digest) === i)
      .sort((a, b) => b.size - a.size)

  it('reads and hashes each blob once; every registry holds the image, tagged', async () => {
    const hosts = regs.map((r) => r.host)
    const { result, events } = pushTo(hosts, 'fan/app')
    const r = await result
    expect(r.digest).toBe(image.digest)
    expect(r.destinations.map((d) => d.reference)).toEqual(
      hosts.map((h) => `${h}/fan/app@${image.digest}`)
    )
    for (const h of hosts) expect(await remoteDigest(`${h}/fan/app:v1`)).toBe(image.digest)
    const layers = layersOf(events)
    expect(layers).toHaveLength(LAYERS.length)
    expect(layerOpens(layers)).toEqual([1, 1, 1])
    // Every byte went to each registry: the sum of what each was really sent.
    const blobs = events.filter((e) => e.type === 'blob' && e.target === `${hosts[0]}/fan/app`)
    const perRegistry = blobs.reduce((n, e) => n + (e.type === 'blob' ? e.desc.size : 0), 0)
    expect(r.bytesSent).toBeGreaterThan(3 * perRegistry)
    // The log, per destination in the order given: its graph, then each item, then the tags.
    const graphs = events.filter((e) => e.type === 'graph').map((e) => e.target)
    expect(graphs).toEqual(hosts.map((h) => `${h}/fan/app`))
    for (const h of hosts) {
      const mine = events.filter(
        (e) => e.type === 'blob' && e.target === `${h}/fan/app` && e.outcome === 'uploaded'
      )
      expect(mine).toHaveLength(blobs.length)
    }
    const tagged = events.filter((e) => e.type === 'tag').map((e) => e.target)
    expect(tagged).toEqual(hosts.map((h) => `${h}/fan/app`))

    // Again: one HEAD of the root per registry, a tag each, nothing read.
    opened.clear()
    const again = await pushTo(hosts, 'fan/app').result
    expect(again.bytesSent).toBe(0)
    expect(layerOpens(layers)).toEqual([0, 0, 0])
  })

  // Refused at the first blob, or at the last step (the others then hold the whole image, untagged).
  it.each([
    ['its blob uploads', '/blobs/uploads/'],
    ['its root manifest', 'root']
  ])(
    'one registry refusing %s fails the push, naming it, and no registry gets the tag',
    async (_what, refused) => {
      const locked = await startProxy(regs[1].host, (req, res) => {
        if (req.method === 'GET' || req.method === 'HEAD') return false
        const refusedPath = refused === 'root' ? `/manifests/${image.digest}` : refused
        if (!(req.url ?? '').includes(refusedPath)) return false
        req.resume()
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end('{"errors":[{"code":"UNKNOWN","message":"storage is read-only"}]}')
        return true
      })
      const repo = `fail/${refused === 'root' ? 'root' : 'blobs'}`
      try {
        const hosts = [regs[0].host, locked.host, regs[2].host]
        const err = await pushTo(hosts, repo, { retries: 0 }).result.then(
          () => new Error('pushed'),
          (e: unknown) => e as Error
        )
        expect(err.message).toContain(locked.host)
        expect(err.message).toMatch(/storage is read-only/)
        for (const r of regs) expect(await headStatus(r.host, `/v2/${repo}/manifests/v1`)).toBe(404)
        if (refused === 'root')
          for (const r of [regs[0], regs[2]])
            expect(await headStatus(r.host, `/v2/${repo}/manifests/${image.digest}`)).toBe(200)
      } finally {
        await locked.stop()
      }
    }
  )

  it('an upload cut once is sent again to that registry alone; all end whole', async () => {
    const puts = (p: TestProxy, digest: string): number =>
      p.log.filter((r) => r.method === 'PUT' && r.url.includes(digest.replace(':', '%3A'))).length
    let cut = false
    const isBlobPut = (req: http.IncomingMessage): boolean =>
      req.method === 'PUT' &&
      (req.url ?? '').includes('/blobs/uploads/') &&
      Number(req.headers['content-length']) > 2_000_000
    const proxies = await Promise.all(
      regs.map((r, i) =>
        startProxy(r.host, (req, res, p) => {
          if (i !== 2 || cut || !isBlobPut(req)) return false
          cut = true
          p.forward(req, res, { cutRequestAfter: 1_000_000 })
          return true
        })
      )
    )
    try {
      const hosts = proxies.map((p) => p.host)
      const { result, events } = pushTo(hosts, 'cut/app')
      const r = await result
      expect(cut).toBe(true)
      for (const reg of regs) expect(await remoteDigest(`${reg.host}/cut/app:v1`)).toBe(r.digest)
      const [big, ...rest] = layersOf(events)
      expect(puts(proxies[0], big.digest)).toBe(1)
      expect(puts(proxies[1], big.digest)).toBe(1)
      expect(puts(proxies[2], big.digest)).toBe(2)
      // The shared read, and the retry's own; the other layers once.
      expect(layerOpens([big, ...rest])).toEqual([2, 1, 1])
    } finally {
      await Promise.all(proxies.map((p) => p.stop()))
    }
  })
})
