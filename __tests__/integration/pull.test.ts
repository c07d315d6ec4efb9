// Pull from a real registry into layouts; skopeo pushes the content and reads our layouts back.
import { readFile, readdir, rm, stat } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { pull } from '../../src/transfer/pull.js'
import { push } from '../../src/transfer/push.js'
import { startProxy } from '../helpers/proxy.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { pushWithSkopeo, remoteDigest, skopeo, tmpDir } from '../helpers/skopeo.js'
import { checkLayout, extractTar, listFiles, ociImageToolValidate } from '../helpers/verify.js'
import {
  BUILDX,
  BUILDX_DIGEST,
  CORPORA,
  describeWith,
  itWith,
  layoutIn,
  MADE,
  present,
  type Corpus
} from '../helpers/corpus.js'

const REF_NAME = 'org.opencontainers.image.ref.name'
const CTR_NAME = 'io.containerd.image.name'

interface Fixture {
  name: string
  /** skopeo source. */
  src: string
  digest: string
  /** Plain image: oci-image-tool can validate it (no in-toto attestation layers). */
  plain: boolean
}

// The made buildx layout, then each corpus's buildah and umoci layouts.
const corpusImages = (c: Corpus): Fixture[] => [
  {
    name: `${c.name}-buildah`,
    src: `oci-archive:${layoutIn(c, 'buildah-oci-archive.tar')}:v1`,
    digest: c.facts.buildah,
    plain: true
  },
  {
    name: `${c.name}-buildah-multi`,
    src: `oci-archive:${layoutIn(c, 'buildah-multiarch-index.tar')}:v1`,
    digest: c.facts.buildahMulti,
    plain: true
  },
  {
    name: `${c.name}-umoci`,
    src: `oci:${layoutIn(c, 'umoci-two-tags')}:v1`,
    digest: c.facts.umociV1,
    plain: true
  }
]
const FIXTURE_IMAGES: Fixture[] = present(
  [
    { name: 'buildx', src: `oci-archive:${BUILDX}:v1`, digest: BUILDX_DIGEST, plain: false },
    ...CORPORA.flatMap(corpusImages)
  ],
  (f) => f.src.replace(/^oci(-archive)?:/, '')
)

describe('pull from an open registry', () => {
  let reg: TestRegistry
  let work: string
  beforeAll(async () => {
    reg = await startRegistry()
    work = await tmpDir('pull-')
    for (const f of FIXTURE_IMAGES)
      await pushWithSkopeo(f.src, `${reg.host}/fx/${f.name}:v1`, undefined, {
        preserveDigests: true
      })
  })
  afterAll(async () => {
    await reg.stop()
  })

  describe.each(FIXTURE_IMAGES)('$name, pushed by skopeo', (f) => {
    it('pulls into a directory: complete, valid, and skopeo copies it back unchanged', async () => {
      const dir = path.join(work, `${f.name}-dir`)
      const result = await pull({ registry: reg.host, reference: `fx/${f.name}:v1`, layout: dir })
      expect(result.digest).toBe(f.digest)
      expect(result.layout).toBe(path.resolve(dir))
      const { entries } = await checkLayout(dir)
      expect(entries).toEqual([
        expect.objectContaining({
          digest: f.digest,
          annotations: { [REF_NAME]: 'v1', [CTR_NAME]: `${reg.host}/fx/${f.name}:v1` }
        })
      ])
      if (f.plain) expect(await ociImageToolValidate(dir)).toMatch(/Validation succeeded/)
      await skopeo([
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${dir}:v1`,
        `docker://${reg.host}/back/${f.name}-dir:v1`
      ])
      expect(await remoteDigest(`${reg.host}/back/${f.name}-dir:v1`)).toBe(f.digest)
    })

    it('pulls into a tar and a gzip tar', async () => {
      for (const ext of ['tar', 'tar.gz']) {
        const file = path.join(work, `${f.name}.${ext}`)
        const result = await pull({
          registry: reg.host,
          reference: `fx/${f.name}:v1`,
          layout: `${file}:release`
        })
        expect(result.digest).toBe(f.digest)
        const dir = await extractTar(file)
        const { entries } = await checkLayout(dir)
        expect(entries[0].annotations?.[REF_NAME]).toBe('release')
        if (f.plain) expect(await ociImageToolValidate(dir)).toMatch(/Validation succeeded/)
        if (ext === 'tar') {
          await skopeo([
            'copy',
            '--all',
            '--preserve-digests',
            '--dest-tls-verify=false',
            `oci-archive:${file}:release`,
            `docker://${reg.host}/back/${f.name}-tar:v1`
          ])
          expect(await remoteDigest(`${reg.host}/back/${f.name}-tar:v1`)).toBe(f.digest)
        }
        expect((await readdir(work)).filter((n) => n.includes('.partial'))).toEqual([])
      }
    })

    it('round trip: what we pull, our push sends back with the same digest', async () => {
      const dir = path.join(work, `${f.name}-rt`)
      await pull({ registry: reg.host, reference: `fx/${f.name}:v1`, layout: dir })
      const again = await push({
        layout: `${dir}:v1`,
        registry: reg.host,
        reference: `rt/${f.name}:v1`
      })
      expect(again.digest).toBe(f.digest)
    })
  })

  it('selects one platform of an index', async () => {
    const dir = path.join(work, 'arm64')
    const result = await pull({
      registry: reg.host,
      reference: 'fx/buildx:v1',
      layout: dir,
      platform: 'linux/arm64'
    })
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: { digest: string; mediaType: string }[]
    }
    expect(index.manifests).toHaveLength(1)
    expect(index.manifests[0].digest).toBe(result.digest)
    expect(result.mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
    const manifest = JSON.parse(
      await readFile(path.join(dir, 'blobs/sha256', result.digest.slice(7)), 'utf8')
    ) as { config: { digest: string } }
    const config = JSON.parse(
      await readFile(path.join(dir, 'blobs/sha256', manifest.config.digest.slice(7)), 'utf8')
    ) as { architecture: string }
    expect(config.architecture).toBe('arm64')
    await checkLayout(dir)
    await expect(
      pull({
        registry: reg.host,
        reference: 'fx/buildx:v1',
        layout: path.join(work, 's390x'),
        platform: 'linux/s390x'
      })
    ).rejects.toMatchObject({
      message: expect.stringMatching(/has no linux\/s390x image/),
      hint: expect.stringMatching(/linux\/amd64, linux\/arm64/)
    })
  })

  itWith(
    MADE,
    ['buildah-oci-archive.tar'],
    'pulls by digest: an entry with no ref.name',
    async () => {
      const dir = path.join(work, 'by-digest')
      const result = await pull({
        registry: reg.host,
        reference: `fx/made-buildah@${MADE.facts.buildah}`,
        layout: dir
      })
      const { entries } = await checkLayout(dir)
      expect(entries).toEqual([
        expect.objectContaining({
          digest: result.digest,
          annotations: { [CTR_NAME]: `${reg.host}/fx/made-buildah@${result.digest}` }
        })
      ])
    }
  )

  itWith(
    MADE,
    ['buildah-oci-archive.tar'],
    'merges into an existing layout, keeping what is there and fetching nothing twice',
    async () => {
      const dir = path.join(work, 'merge')
      await pull({ registry: reg.host, reference: 'fx/buildx:v1', layout: dir })
      await pull({ registry: reg.host, reference: 'fx/made-buildah:v1', layout: `${dir}:other` })
      const outcomes: string[] = []
      await pull({
        registry: reg.host,
        reference: 'fx/buildx:v1',
        layout: dir,
        onEvent: (e) => (e.type === 'blob' || e.type === 'manifest') && outcomes.push(e.outcome)
      })
      expect(new Set(outcomes)).toEqual(new Set(['exists']))
      const { entries } = await checkLayout(dir)
      expect(entries.map((e) => e.annotations?.[REF_NAME]).sort()).toEqual(['other', 'v1'])
    }
  )

  it('two pulls into one directory at once both land in index.json', async () => {
    const dir = path.join(work, 'concurrent')
    await Promise.all(
      FIXTURE_IMAGES.map((f) =>
        pull({ registry: reg.host, reference: `fx/${f.name}:v1`, layout: `${dir}:${f.name}` })
      )
    )
    const { entries } = await checkLayout(dir)
    expect(entries.map((e) => e.annotations?.[REF_NAME]).sort()).toEqual(
      FIXTURE_IMAGES.map((f) => f.name).sort()
    )
    expect(
      (await listFiles(dir)).filter((n) => n.includes('.partial') || n.endsWith('.lock'))
    ).toEqual([])
  })

  it('a missing tag or repository fails in one line and writes nothing', async () => {
    const dir = path.join(work, 'missing')
    await expect(
      pull({ registry: reg.host, reference: 'fx/buildx:nope', layout: dir })
    ).rejects.toThrow(/fx\/buildx:nope not found/)
    await expect(
      pull({ registry: reg.host, reference: 'no/such-repo:v1', layout: dir })
    ).rejects.toThrow(/no\/such-repo:v1 not found/)
    await expect(stat(dir)).rejects.toThrow(/ENOENT/)
  })
})

for (const corpus of CORPORA)
  describeWith(
    corpus,
    ['registry-storage/images.tar.gz'],
    'pull from registry storage written by another client',
    () => {
      let reg: TestRegistry
      beforeAll(async () => {
        reg = await startRegistry({
          storageDump: path.join(corpus.root, 'registry-storage/images.tar.gz')
        })
      })
      afterAll(async () => {
        await reg.stop()
      })

      it.each(['foobar', 'multi'])('command/images:%s', async (tag) => {
        const dir = await tmpDir(`dump-${tag}-`)
        const result = await pull({
          registry: reg.host,
          reference: `command/images:${tag}`,
          layout: dir
        })
        expect(result.digest).toBe(await remoteDigest(`${reg.host}/command/images:${tag}`))
        const { blobs } = await checkLayout(dir)
        expect(blobs).toBeGreaterThan(1)
      })
    }
  )

describe('pull through a proxy', () => {
  let reg: TestRegistry
  const creds = { username: 'bob', password: 'hunter2hunter2' }
  const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`
  beforeAll(async () => {
    reg = await startRegistry({ users: { bob: creds.password } })
    await push({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'px/app:v1',
      credentials: creds
    })
  })
  afterAll(async () => {
    await reg.stop()
  })

  it('follows blob redirects to another origin without Authorization, and relative ones with it', async () => {
    // The "CDN": another origin that serves blobs and records what it was sent.
    const cdnSeen: (string | undefined)[] = []
    const cdn = http.createServer((req, res) => {
      cdnSeen.push(req.headers.authorization)
      http.get(
        `http://${reg.host}${req.url?.replace('/cdn', '/v2')}`,
        { headers: { authorization: basic } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, {
            'content-length': up.headers['content-length'] ?? ''
          })
          up.pipe(res)
        }
      )
    })
    await new Promise<void>((r) => cdn.listen(0, '127.0.0.1', r))
    const cdnHost = `127.0.0.1:${(cdn.address() as { port: number }).port}`
    let n = 0
    const proxy = await startProxy(reg.host, (req, res) => {
      const m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '')
      if (req.method !== 'GET' || !m) return false
      // Alternate: an absolute Location on another origin, and a relative one on this origin.
      if (n++ % 2 === 0)
        res.writeHead(307, {
          location: `http://${cdnHost}/cdn/${m[1]}/blobs/${m[2]}?X-Signature=abc`
        })
      else
        res.writeHead(302, { location: `../../${m[1].split('/').pop()}/blobs/${m[2]}?relative=1` })
      res.end()
      return true
    })
    try {
      const dir = await tmpDir('redirect-')
      const result = await pull({
        registry: proxy.host,
        reference: 'px/app:v1',
        layout: dir,
        credentials: creds
      })
      expect(result.digest).toBe(BUILDX_DIGEST)
      await checkLayout(dir)
      expect(cdnSeen.length).toBeGreaterThan(0)
      expect(cdnSeen.every((a) => a === undefined)).toBe(true)
      const relative = proxy.log.filter((r) => r.url.includes('relative=1'))
      expect(relative.length).toBeGreaterThan(0)
      expect(relative.every((r) => r.authorization === basic)).toBe(true)
    } finally {
      await proxy.stop()
      await new Promise<void>((r) => cdn.close(() => r()))
    }
  })

  it('an interrupted pull leaves the earlier layout as it was', async () => {
    const work = await tmpDir('interrupt-')
    const dir = path.join(work, 'layout')
    const file = path.join(work, 'layout.tar')
    await pull({
      registry: reg.host,
      reference: 'px/app:v1',
      layout: `${dir}:old`,
      credentials: creds,
      platform: 'linux/amd64'
    })
    await pull({
      registry: reg.host,
      reference: 'px/app:v1',
      layout: `${file}:old`,
      credentials: creds,
      platform: 'linux/amd64'
    })
    const indexBefore = await readFile(path.join(dir, 'index.json'))
    const tarBefore = await readFile(file)
    const filesBefore = await listFiles(dir)
    // Cut every large blob download half way, and every request to go on from there at once.
    const proxy = await startProxy(reg.host, (req, res, p) => {
      if (req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '')) {
        if (req.headers.range) req.socket.destroy()
        else p.forward(req, res, { cutAfter: 4000 })
        return true
      }
      return false
    })
    try {
      await expect(
        pull({
          registry: proxy.host,
          reference: 'px/app:v1',
          layout: `${dir}:new`,
          credentials: creds
        })
      ).rejects.toThrow()
      await expect(
        pull({
          registry: proxy.host,
          reference: 'px/app:v1',
          layout: `${file}:new`,
          credentials: creds
        })
      ).rejects.toThrow()
    } finally {
      await proxy.stop()
    }
    expect(await readFile(path.join(dir, 'index.json'))).toEqual(indexBefore)
    expect(await readFile(file)).toEqual(tarBefore)
    // Whole blobs may have been added (content-addressed, harmless); nothing partial is left.
    const after = await listFiles(dir)
    expect(after.filter((n) => n.includes('.partial'))).toEqual([])
    expect(filesBefore.every((f) => after.includes(f))).toBe(true)
    expect((await readdir(work)).sort()).toEqual(['layout', 'layout.tar'])
    await checkLayout(dir)
    await rm(work, { recursive: true, force: true })
  })
})

describe('round trip: push → pull → push gives the same digest for every corpus layout that pushes', () => {
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry()
  })
  afterAll(async () => {
    await reg.stop()
  })
  const layouts = [
    `${BUILDX}:v1`,
    ...CORPORA.flatMap((c) => {
      const L = (name: string): string => layoutIn(c, name)
      return [
        `${L('buildah-oci-archive.tar')}:v1`,
        `${L('buildah-multiarch-index.tar')}:v1`,
        `${L('umoci-two-tags')}:v1`,
        `${L('umoci-two-tags')}:v2`,
        `${L('containerd-export-hello-world.tar')}@${c.facts.helloAmd64}`,
        `${L('gnu-tar-dot-prefixed-hello-world.tar')}@${c.facts.helloAmd64}`,
        ...[
          'v1',
          'v2',
          'v3',
          'b1',
          'b2',
          'b3',
          'a-docker',
          'a-docker-oci',
          'a1',
          'ai',
          'child',
          'loop',
          'mirror'
        ].map((t) => `${L('regclient-testrepo')}:${t}`)
      ]
    })
  ]
  it.each(
    present(
      layouts.map((l, i) => [i, l] as [number, string]),
      ([, l]) => l
    )
  )('%i: %s', async (i, layout) => {
    const first = await push({ layout, registry: reg.host, reference: `rt${i}/a:t` })
    const dir = await tmpDir('round-trip-')
    const pulled = await pull({ registry: reg.host, reference: `rt${i}/a:t`, layout: dir })
    expect(pulled.digest).toBe(first.digest)
    const again = await push({ layout: `${dir}:t`, registry: reg.host, reference: `rt${i}/b:t` })
    expect(again.digest).toBe(first.digest)
    expect(await remoteDigest(`${reg.host}/rt${i}/b:t`)).toBe(first.digest)
  })
})
