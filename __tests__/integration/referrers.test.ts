// Referrers (signatures, SBOMs, attestations) carried both ways: the fallback tag on a registry
// without the referrers API (distribution 2.8, the one the tests run), and the API through a
// proxy that answers it as an OCI 1.1 registry does.
import { readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import http from 'node:http'
import path from 'node:path'
import { pull } from '../../src/transfer/pull.js'
import { push } from '../../src/transfer/push.js'
import { imageWithArtifacts, type Desc } from '../helpers/layouts.js'
import { startProxy } from '../helpers/proxy.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { tmpDir } from '../helpers/skopeo.js'
import { checkLayout } from '../helpers/verify.js'
import { BUILDX, CORPORA, itWith, layoutIn } from '../helpers/corpus.js'

const ACCEPT = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json'

async function get(host: string, p: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://${host}${p}`, { headers: { Accept: ACCEPT } })
  return { status: res.status, json: res.status === 200 ? await res.json() : undefined }
}

const fallback = (digest: string): string => digest.replace(':', '-')

describe('referrers on a registry without the referrers API (fallback tags)', () => {
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry()
  })
  afterAll(async () => {
    await reg.stop()
  })

  for (const corpus of CORPORA)
    itWith(
      corpus,
      ['regclient-testrepo'],
      'pushes the regclient layout with its referrers and writes the fallback tag',
      async () => {
        const V2 = corpus.facts.testrepoV2
        const repo = `rc-${corpus.name}/app`
        const r = await push({
          layout: `${layoutIn(corpus, 'regclient-testrepo')}:v2`,
          registry: reg.host,
          reference: `${repo}:v2`,
          referrers: true
        })
        expect(r.digest).toBe(V2)
        const idx = await get(reg.host, `/v2/${repo}/manifests/${fallback(V2)}`)
        expect(idx.status).toBe(200)
        const listed = (idx.json as { manifests: (Desc & { artifactType?: string })[] }).manifests
        expect(listed.map((d) => d.artifactType).sort()).toEqual([
          'application/example.sbom',
          'application/example.signature'
        ])
        for (const d of listed)
          expect((await get(reg.host, `/v2/${repo}/manifests/${d.digest}`)).status).toBe(200)
        expect(r.referrers.length).toBeGreaterThanOrEqual(2)
      }
    )

  it('pushes an image with several artifacts, then pulls it back with them, filtered or not', async () => {
    const { dir, image, artifacts } = await imageWithArtifacts(['sbom', 'signature', 'provenance'])
    await push({
      layout: `${dir}:v1`,
      registry: reg.host,
      reference: 'multi/app:v1',
      referrers: true
    })
    const idx = await get(reg.host, `/v2/multi/app/manifests/${fallback(image.digest)}`)
    const listed = (idx.json as { manifests: (Desc & { artifactType: string })[] }).manifests
    expect(listed.map((d) => d.digest).sort()).toEqual(artifacts.map((a) => a.digest).sort())
    // artifactType and annotations are copied into each descriptor, as the spec says.
    expect(listed.find((d) => d.artifactType === 'application/vnd.test.sbom')?.annotations).toEqual(
      { 'org.opencontainers.image.title': 'sbom' }
    )

    const out = await tmpDir('ref-pull-')
    const pulled = await pull({
      registry: reg.host,
      reference: 'multi/app:v1',
      layout: out,
      referrers: true
    })
    expect(pulled.digest).toBe(image.digest)
    const { entries } = await checkLayout(out)
    expect(
      entries
        .filter((e) => !e.annotations?.['org.opencontainers.image.ref.name'])
        .map((e) => e.digest)
        .sort()
    ).toEqual(artifacts.map((a) => a.digest).sort())

    const filtered = await tmpDir('ref-pull-filter-')
    await pull({
      registry: reg.host,
      reference: 'multi/app:v1',
      layout: filtered,
      referrers: true,
      artifactType: 'application/vnd.test.signature'
    })
    const index = JSON.parse(await readFile(path.join(filtered, 'index.json'), 'utf8')) as {
      manifests: Desc[]
    }
    expect(index.manifests).toHaveLength(2)
    expect(index.manifests.map((m) => m.digest)).toContain(artifacts[1].digest)
  })

  it('a second push adds to the fallback index without dropping entries', async () => {
    const first = await imageWithArtifacts(['sbom', 'signature'])
    await push({
      layout: `${first.dir}:v1`,
      registry: reg.host,
      reference: 'merge/app:v1',
      referrers: true
    })
    // The same image with another artifact, from another layout.
    const second = await imageWithArtifacts(['vex'])
    expect(second.image.digest).toBe(first.image.digest)
    await push({
      layout: `${second.dir}:v1`,
      registry: reg.host,
      reference: 'merge/app:v1',
      referrers: true
    })
    const idx = await get(reg.host, `/v2/merge/app/manifests/${fallback(first.image.digest)}`)
    const listed = (idx.json as { manifests: Desc[] }).manifests.map((d) => d.digest).sort()
    expect(listed).toEqual([...first.artifacts, ...second.artifacts].map((a) => a.digest).sort())
  })

  it('leaves BuildKit attestation manifests inside their index, and writes no fallback tag for them', async () => {
    await push({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'bk/app:v1',
      referrers: true
    })
    const tags = await get(reg.host, '/v2/bk/app/tags/list')
    expect((tags.json as { tags: string[] }).tags).toEqual(['v1'])
  })

  for (const corpus of CORPORA)
    itWith(
      corpus,
      ['regclient-testrepo'],
      'pushes the regclient loop (an index whose referrer graph cycles) and terminates',
      async () => {
        const r = await push({
          layout: `${layoutIn(corpus, 'regclient-testrepo')}:loop`,
          registry: reg.host,
          reference: `rc-${corpus.name}/loop:v1`,
          referrers: true
        })
        expect(r.digest).toBe(corpus.facts.loop)
      }
    )
})

describe('referrers through the OCI 1.1 referrers API (a proxy answers it)', () => {
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry()
  })
  afterAll(async () => {
    await reg.stop()
  })

  it('pushes without a fallback tag when the registry keeps referrers, and pulls through the API', async () => {
    // subject digest → referrer descriptors, learnt from the manifest PUTs that pass through.
    const bySubject = new Map<string, object[]>()
    const apiCalls: string[] = []
    const proxy = await startProxy(reg.host, (req, res) => {
      const refs = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})/.exec(req.url ?? '')
      if (req.method === 'GET' && refs) {
        apiCalls.push(refs[2])
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' })
        res.end(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.index.v1+json',
            manifests: bySubject.get(refs[2]) ?? []
          })
        )
        return true
      }
      if (req.method === 'PUT' && req.url?.includes('/manifests/')) {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => {
          const body = Buffer.concat(chunks)
          const m = JSON.parse(body.toString()) as {
            subject?: { digest: string }
            artifactType?: string
            mediaType: string
            annotations?: object
          }
          const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
          if (m.subject) {
            const list = bySubject.get(m.subject.digest) ?? []
            list.push({
              mediaType: m.mediaType,
              digest,
              size: body.length,
              artifactType: m.artifactType,
              annotations: m.annotations
            })
            bySubject.set(m.subject.digest, list)
          }
          const up = http.request(
            `http://${reg.host}${req.url}`,
            { method: 'PUT', headers: req.headers },
            (upRes: http.IncomingMessage) => {
              const headers = {
                ...upRes.headers,
                ...(m.subject ? { 'oci-subject': m.subject.digest } : {})
              }
              res.writeHead(upRes.statusCode ?? 502, headers)
              upRes.pipe(res)
            }
          )
          up.end(body)
        })
        return true
      }
      return false
    })
    try {
      const { dir, image, artifacts } = await imageWithArtifacts(['sbom', 'signature'])
      await push({
        layout: `${dir}:v1`,
        registry: proxy.host,
        reference: 'api/app:v1',
        referrers: true
      })
      // The registry keeps them: no fallback tag written.
      expect((await get(reg.host, `/v2/api/app/manifests/${fallback(image.digest)}`)).status).toBe(
        404
      )
      const out = await tmpDir('api-pull-')
      await pull({ registry: proxy.host, reference: 'api/app:v1', layout: out, referrers: true })
      expect(apiCalls).toContain(image.digest)
      const { entries } = await checkLayout(out)
      expect(entries.map((e) => e.digest).sort()).toEqual(
        [image, ...artifacts].map((a) => a.digest).sort()
      )
    } finally {
      await proxy.stop()
    }
  })
})
