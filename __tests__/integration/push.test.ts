// Push against a real distribution registry; skopeo, an independent client, reads back what we wrote.
import { copyFile, rm, truncate, writeFile, readFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { push } from '../../src/transfer/push.js'
import { headStatus, startRegistry, type TestRegistry } from '../helpers/registry.js'
import { copyToOciDir, remoteDigest, tmpDir } from '../helpers/skopeo.js'
import { fixtureCopy, makeImageLayout, readJson, type Desc } from '../helpers/layouts.js'
import {
  BUILDX,
  BUILDX_DIGEST,
  CORPORA,
  itWith,
  layoutIn,
  MADE,
  present,
  type Corpus
} from '../helpers/corpus.js'

const L = (name: string): string => layoutIn(MADE, name)

/** What the registry holds under a tag or digest, asked directly over HTTP. */
const manifestStatus = (host: string, repo: string, ref: string, auth?: string): Promise<number> =>
  headStatus(host, `/v2/${repo}/manifests/${ref}`, auth)

describe('push to an open registry', () => {
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry()
  })
  afterAll(async () => {
    await reg.stop()
  })

  // Each pushable shared fixture: the digest skopeo reads back is the layout's own, and skopeo
  // can copy the whole graph out again (every blob is there).
  const corpusCases = (c: Corpus): [string, string, string | undefined][] => {
    const L = (name: string): string => layoutIn(c, name)
    const hello = c.facts.helloAmd64
    return [
      [
        'buildah single-platform archive (index.json → manifest)',
        `${L('buildah-oci-archive.tar')}:v1`,
        c.facts.buildah
      ],
      [
        'buildah multi-arch archive',
        `${L('buildah-multiarch-index.tar')}:v1`,
        c.facts.buildahMulti
      ],
      ['umoci directory, tag v2', `${L('umoci-two-tags')}:v2`, c.facts.umociV2],
      [
        'containerd export, present platform by digest (Docker media types)',
        `${L('containerd-export-hello-world.tar')}@${hello}`,
        hello
      ],
      [
        'GNU tar with ./ names, by digest',
        `${L('gnu-tar-dot-prefixed-hello-world.tar')}@${hello}`,
        hello
      ],
      ['regclient multi-arch index v3', `${L('regclient-testrepo')}:v3`, undefined],
      ['regclient Docker manifest', `${L('regclient-testrepo')}:a-docker`, undefined],
      ['regclient artifact with subject', `${L('regclient-testrepo')}:a1`, undefined]
    ].map(
      ([name, layout, digest]) =>
        [`${c.name}: ${name}`, layout, digest] as [string, string, string | undefined]
    )
  }
  const cases: [string, string, string | undefined][] = [
    ['BuildKit-style multi-platform tar with attestations', `${BUILDX}:v1`, BUILDX_DIGEST],
    ...CORPORA.flatMap(corpusCases)
  ]
  it.each(present(cases, (c) => c[1]))('%s', async (_name, layout, expected) => {
    const repo = `fixtures/case${cases.findIndex((c) => c[1] === layout)}`
    const result = await push({ layout, registry: reg.host, reference: `${repo}:t1` })
    if (expected) expect(result.digest).toBe(expected)
    expect(result.reference).toBe(`${reg.host}/${repo}@${result.digest}`)
    expect(await remoteDigest(`${reg.host}/${repo}:t1`)).toBe(result.digest)
    const out = await tmpDir('skopeo-out-')
    await copyToOciDir(`${reg.host}/${repo}:t1`, out, undefined, { preserveDigests: true })
    const index = await readJson<{ manifests: Desc[] }>(path.join(out, 'index.json'))
    expect(index.manifests[0].digest).toBe(result.digest)
    await rm(out, { recursive: true, force: true })
  })

  it('pushes a gzip-compressed tarball, detected from its bytes', async () => {
    const dir = await tmpDir('gz-')
    const file = path.join(dir, 'layout.bin')
    await writeFile(file, gzipSync(await readFile(BUILDX)))
    const result = await push({
      layout: `${file}:latest`,
      registry: reg.host,
      reference: 'gz/app:latest'
    })
    expect(result.digest).toBe(BUILDX_DIGEST)
    expect(await remoteDigest(`${reg.host}/gz/app:latest`)).toBe(BUILDX_DIGEST)
  })

  it('pushes zstd layers and Docker media types byte for byte', async () => {
    for (const manifestType of ['oci', 'docker'] as const) {
      const { dir, manifest } = await makeImageLayout({
        manifestType,
        layerCompression: 'zstd',
        tag: 'z'
      })
      const result = await push({
        layout: dir,
        registry: reg.host,
        reference: `zstd/${manifestType}:z`
      })
      expect(result.digest).toBe(manifest.digest)
      expect(result.mediaType).toBe(manifest.mediaType)
      expect(await remoteDigest(`${reg.host}/zstd/${manifestType}:z`)).toBe(manifest.digest)
    }
  })

  it('a second push of the same image uploads nothing', async () => {
    await push({ layout: `${BUILDX}:v1`, registry: reg.host, reference: 'again/app:v1' })
    const outcomes: string[] = []
    const result = await push({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'again/app:v1',
      onEvent: (e) => (e.type === 'blob' || e.type === 'manifest') && outcomes.push(e.outcome)
    })
    expect(result.bytesSent).toBe(0)
    expect(outcomes.length).toBeGreaterThan(0)
    expect(outcomes.every((o) => o === 'exists')).toBe(true)
  })

  describe('selectors and tags', () => {
    it.each(
      present(
        [
          ['tag v1', `${BUILDX}:v1`, BUILDX_DIGEST],
          ['tag latest', `${BUILDX}:latest`, BUILDX_DIGEST],
          ['digest', `${BUILDX}@${BUILDX_DIGEST}`, BUILDX_DIGEST],
          ['none, entries sharing one digest', BUILDX, BUILDX_DIGEST],
          ['none, single entry', L('buildah-oci-archive.tar'), MADE.facts.buildah]
        ],
        (row) => row[1]
      )
    )('selects by %s', async (_n, layout, digest) => {
      const result = await push({ layout, registry: reg.host, reference: 'sel/app:x' })
      expect(result.digest).toBe(digest)
    })

    it('matches a full-reference ref.name by its tag', async () => {
      const { dir, manifest } = await makeImageLayout({
        tag: '1.0',
        refName: 'docker.io/library/x:1.0'
      })
      const result = await push({ layout: `${dir}:1.0`, registry: reg.host, reference: 'sel/full' })
      expect(result.digest).toBe(manifest.digest)
      // The selector's tag is pushed when the reference has none.
      expect(result.tags).toEqual([`${reg.host}/sel/full:1.0`])
      expect(await manifestStatus(reg.host, 'sel/full', '1.0')).toBe(200)
    })

    itWith(
      MADE,
      ['umoci-two-tags'],
      'refuses to guess between several images and lists the tags',
      async () => {
        await expect(
          push({ layout: L('umoci-two-tags'), registry: reg.host, reference: 'sel/app:x' })
        ).rejects.toThrow(/holds 2 images/)
        await expect(
          push({ layout: L('umoci-two-tags'), registry: reg.host, reference: 'sel/app:x' })
        ).rejects.toMatchObject({ hint: expect.stringContaining('v1, v2') })
      }
    )

    it('names the tags a layout has when the tag is missing', async () => {
      const err = await push({
        layout: `${BUILDX}:nope`,
        registry: reg.host,
        reference: 'sel/app:x'
      }).catch((e: unknown) => e)
      expect(String(err)).toMatch(/tag "nope" is not in/)
      expect((err as { hint: string }).hint).toMatch(/v1, latest/)
    })

    it('pushes by digest only when neither reference nor selector has a tag', async () => {
      const result = await push({ layout: BUILDX, registry: reg.host, reference: 'bydigest/app' })
      expect(result.tags).toEqual([])
      expect(await manifestStatus(reg.host, 'bydigest/app', BUILDX_DIGEST)).toBe(200)
    })

    it('accepts a fully qualified reference and rejects a conflicting registry', async () => {
      const result = await push({ layout: `${BUILDX}:v1`, reference: `${reg.host}/fq/app:v1` })
      expect(result.digest).toBe(BUILDX_DIGEST)
      await expect(
        push({ layout: `${BUILDX}:v1`, registry: 'ghcr.io', reference: `${reg.host}/fq/app:v1` })
      ).rejects.toThrow(/names registry/)
    })
  })

  describe('layout errors push nothing', () => {
    it('a missing path', async () => {
      await expect(
        push({ layout: '/nonexistent/app.tar', registry: reg.host, reference: 'err/app:v1' })
      ).rejects.toThrow(/does not exist/)
    })

    it('a file that is not a tar', async () => {
      const dir = await tmpDir('nottar-')
      await writeFile(
        path.join(dir, 'x.tar'),
        'this is not a tar archive at all, just some text that is long enough '.repeat(20)
      )
      await expect(
        push({ layout: path.join(dir, 'x.tar'), registry: reg.host, reference: 'err/app:v1' })
      ).rejects.toThrow(/not a tar archive/)
      await writeFile(path.join(dir, 'empty.tar'), '')
      await expect(
        push({ layout: path.join(dir, 'empty.tar'), registry: reg.host, reference: 'err/app:v1' })
      ).rejects.toThrow(/empty/)
    })

    it('a truncated tar', async () => {
      const dir = await tmpDir('trunc-')
      const file = path.join(dir, 'cut.tar')
      await copyFile(BUILDX, file)
      await truncate(file, 10_000)
      await expect(
        push({ layout: file, registry: reg.host, reference: 'err/app:v1' })
      ).rejects.toThrow(/truncated/)
    })

    it('a directory that is not a layout', async () => {
      const dir = await tmpDir('notlayout-')
      await mkdir(path.join(dir, 'blobs'))
      await expect(
        push({ layout: dir, registry: reg.host, reference: 'err/app:v1' })
      ).rejects.toThrow(/not an OCI layout: it has no index.json/)
    })

    itWith(
      MADE,
      ['docker-save-v25-hello-world.tar'],
      '"manifests": null (docker save)',
      async () => {
        await expect(
          push({
            layout: L('docker-save-v25-hello-world.tar'),
            registry: reg.host,
            reference: 'err/app:v1'
          })
        ).rejects.toThrow(/lists no images/)
      }
    )

    itWith(
      MADE,
      ['containerd-export-hello-world.tar'],
      'a partial multi-platform layout says which platforms are missing and how to push the present one',
      async () => {
        const err = await push({
          layout: L('containerd-export-hello-world.tar'),
          registry: reg.host,
          reference: 'err/partial:v1'
        }).catch((e: unknown) => e)
        expect(String(err)).toMatch(/partial multi-platform layout.*10 missing \(linux\/arm\/v5/)
        expect((err as { hint: string }).hint).toContain(`@${MADE.facts.helloAmd64} (linux/amd64)`)
        expect(await manifestStatus(reg.host, 'err/partial', 'v1')).toBe(404)
      }
    )

    itWith(
      MADE,
      ['buildah-oci-archive.tar'],
      'a missing blob is named with the manifest that references it',
      async () => {
        const dir = await fixtureCopy('buildah-oci-archive.tar')
        const manifest = await readJson<{ layers: Desc[] }>(
          path.join(dir, 'blobs/sha256', MADE.facts.buildah.slice(7))
        )
        await rm(path.join(dir, 'blobs/sha256', manifest.layers[0].digest.slice(7)))
        await expect(
          push({ layout: dir, registry: reg.host, reference: 'err/missing:v1' })
        ).rejects.toThrow(
          new RegExp(
            `blob ${manifest.layers[0].digest} in .* is missing \\(referenced by manifest ${MADE.facts.buildah.slice(0, 19)}`
          )
        )
        expect(await manifestStatus(reg.host, 'err/missing', 'v1')).toBe(404)
      }
    )

    it('a blob whose bytes do not match its digest stops the push before any manifest', async () => {
      const dir = await fixtureCopy('buildx-style-multiarch-attest.tar')
      const index = await readJson<{ manifests: Desc[] }>(
        path.join(dir, 'blobs/sha256', BUILDX_DIGEST.slice(7))
      )
      const amd64 = await readJson<{ layers: Desc[] }>(
        path.join(dir, 'blobs/sha256', index.manifests[0].digest.slice(7))
      )
      const file = path.join(dir, 'blobs/sha256', amd64.layers[0].digest.slice(7))
      const bytes = await readFile(file)
      bytes[bytes.length - 1] ^= 0xff // same size, other bytes
      await writeFile(file, bytes)
      await expect(
        push({
          layout: `${dir}:v1`,
          registry: reg.host,
          reference: 'err/corrupt:v1',
          concurrency: 1
        })
      ).rejects.toThrow(
        new RegExp(`blob ${amd64.layers[0].digest} in .*: content does not match its digest`)
      )
      expect(await manifestStatus(reg.host, 'err/corrupt', index.manifests[0].digest)).toBe(404)
      expect(await manifestStatus(reg.host, 'err/corrupt', 'v1')).toBe(404)
    })

    itWith(
      MADE,
      ['buildah-oci-archive.tar'],
      'a blob shorter than its descriptor is caught before anything is sent',
      async () => {
        const dir = await fixtureCopy('buildah-oci-archive.tar')
        const manifest = await readJson<{ layers: Desc[] }>(
          path.join(dir, 'blobs/sha256', MADE.facts.buildah.slice(7))
        )
        await truncate(path.join(dir, 'blobs/sha256', manifest.layers[0].digest.slice(7)), 100)
        await expect(
          push({ layout: dir, registry: reg.host, reference: 'err/short:v1' })
        ).rejects.toThrow(/100 bytes, but its descriptor says/)
      }
    )
  })
})

describe('push with Basic auth (htpasswd)', () => {
  let reg: TestRegistry
  const password = 's3cret:with:colons'
  beforeAll(async () => {
    reg = await startRegistry({ users: { alice: password } })
  })
  afterAll(async () => {
    await reg.stop()
  })

  it('pushes with the right credentials', async () => {
    const result = await push({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'auth/app:v1',
      credentials: { username: 'alice', password }
    })
    expect(result.digest).toBe(BUILDX_DIGEST)
    expect(await remoteDigest(`${reg.host}/auth/app:v1`, `alice:${password}`)).toBe(BUILDX_DIGEST)
  })

  it('fails clearly on a wrong password, without printing it', async () => {
    const wrong = 'wrong-password-1234'
    const err = await push({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'auth/app:v2',
      credentials: { username: 'alice', password: wrong }
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    const text = `${String(err)} ${(err as { hint?: string }).hint ?? ''}`
    expect(text).toMatch(/rejected the credentials of user "alice"/)
    expect(text).toMatch(/check the username and password/)
    expect(text).not.toContain(wrong)
  })

  it('fails clearly without credentials', async () => {
    await expect(
      push({ layout: `${BUILDX}:v1`, registry: reg.host, reference: 'auth/app:v3' })
    ).rejects.toThrow(/requires authentication/)
  })
})
