// Smoke test of the integration harness itself: registries start (open, htpasswd, from a storage
// dump) and skopeo talks to them over plain http.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { promisify } from 'node:util'
import { startRegistry, type TestRegistry } from './helpers/registry.js'
import { CORPORA, describeWith, itWith, layoutIn, MADE } from './helpers/corpus.js'
import { copyToOciDir, pushWithSkopeo, remoteDigest, tmpDir } from './helpers/skopeo.js'

const execFileP = promisify(execFile)
const DIGEST = /^sha256:[0-9a-f]{64}$/
const BUILDAH_ARCHIVE = layoutIn(MADE, 'buildah-oci-archive.tar')
const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json'
].join(', ')

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
}

function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }))
      })
      .on('error', reject)
  })
}

function basic(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
}

interface OciIndex {
  manifests: { digest: string; annotations?: Record<string, string> }[]
}

async function layoutIndex(dir: string): Promise<OciIndex> {
  return JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as OciIndex
}

async function archiveIndex(archive: string): Promise<OciIndex> {
  const { stdout } = await execFileP('tar', ['-xOf', archive, 'index.json'])
  return JSON.parse(stdout) as OciIndex
}

describe('open registry', () => {
  let reg: TestRegistry
  let out: string
  beforeAll(async () => {
    reg = await startRegistry()
    out = await tmpDir('harness-oci-')
  })
  afterAll(async () => {
    await reg?.stop()
    if (out !== undefined) await rm(out, { recursive: true, force: true })
  })

  itWith(
    MADE,
    ['buildah-oci-archive.tar'],
    'skopeo pushes an oci-archive, digest matches, pull to oci dir works',
    async () => {
      expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/)
      expect((await get(`http://${reg.host}/v2/`)).status).toBe(200)
      const [archived] = (await archiveIndex(BUILDAH_ARCHIVE)).manifests.map((m) => m.digest)

      // Default push: skopeo gzips buildah's uncompressed layer, so the manifest is a new one.
      const ref = `${reg.host}/harness/buildah:v1`
      await pushWithSkopeo(`oci-archive:${BUILDAH_ARCHIVE}:v1`, ref)
      const digest = await remoteDigest(ref)
      expect(digest).toMatch(DIGEST)
      expect(digest).not.toBe(archived)
      // Our hash of skopeo's raw bytes equals what the registry computed over what it stores.
      const got = await get(`http://${reg.host}/v2/harness/buildah/manifests/v1`, {
        Accept: MANIFEST_ACCEPT
      })
      expect(got.status).toBe(200)
      expect(got.headers['docker-content-digest']).toBe(digest)
      expect(
        existsSync(path.join(reg.root, 'docker/registry/v2/repositories/harness/buildah'))
      ).toBe(true)

      // preserveDigests: the archive's manifest goes up unchanged, and comes back unchanged.
      const exact = `${reg.host}/harness/exact:v1`
      await pushWithSkopeo(`oci-archive:${BUILDAH_ARCHIVE}:v1`, exact, undefined, {
        preserveDigests: true
      })
      expect(await remoteDigest(exact)).toBe(archived)

      const dir = path.join(out, 'layout')
      await copyToOciDir(ref, dir)
      expect((await layoutIndex(dir)).manifests.map((m) => m.digest)).toEqual([digest])

      const exactDir = path.join(out, 'exact')
      await copyToOciDir(exact, exactDir, undefined, { preserveDigests: true })
      expect((await layoutIndex(exactDir)).manifests.map((m) => m.digest)).toEqual([archived])
    }
  )

  test('stop() is idempotent and cleans up', async () => {
    const extra = await startRegistry()
    await Promise.all([extra.stop(), extra.stop()])
    await extra.stop()
    expect(existsSync(extra.root)).toBe(false)
    await expect(get(`http://${extra.host}/v2/`)).rejects.toThrow()
  })
})

describe('htpasswd registry', () => {
  const user = 'alice'
  const pass = 's3cr3t:with:colons'
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry({ users: { [user]: pass, bob: 'other' } })
  })
  afterAll(async () => {
    await reg?.stop()
  })

  test('anonymous is refused, Basic auth is accepted', async () => {
    const anon = await get(`http://${reg.host}/v2/`)
    expect(anon.status).toBe(401)
    expect(anon.headers['www-authenticate']).toBe('Basic realm="basic-realm"')
    expect((await get(`http://${reg.host}/v2/`, { Authorization: basic(user, pass) })).status).toBe(
      200
    )
    expect(
      (await get(`http://${reg.host}/v2/`, { Authorization: basic(user, 'wrong') })).status
    ).toBe(401)
  })

  itWith(MADE, ['buildah-oci-archive.tar'], 'skopeo pushes with creds, fails without', async () => {
    const ref = `${reg.host}/private/buildah:v1`
    const creds = `${user}:${pass}`
    await expect(pushWithSkopeo(`oci-archive:${BUILDAH_ARCHIVE}:v1`, ref)).rejects.toThrow(
      /unauthorized|authentication required/i
    )
    await pushWithSkopeo(`oci-archive:${BUILDAH_ARCHIVE}:v1`, ref, creds)
    expect(await remoteDigest(ref, creds)).toMatch(DIGEST)
    await expect(remoteDigest(ref)).rejects.toThrow(/unauthorized|authentication required/i)
  })
})

for (const corpus of CORPORA)
  describeWith(corpus, ['registry-storage/images.tar.gz'], 'registry from a storage dump', () => {
    let reg: TestRegistry
    beforeAll(async () => {
      reg = await startRegistry({
        storageDump: path.join(corpus.root, 'registry-storage/images.tar.gz')
      })
    })
    afterAll(async () => {
      await reg?.stop()
    })

    test('serves command/images tags that no one here pushed', async () => {
      // Expected digests are the tags' current/link files in the dump.
      const tags = path.join(
        reg.root,
        'docker/registry/v2/repositories/command/images/_manifests/tags'
      )
      for (const tag of ['foobar', 'multi']) {
        const link = (await readFile(path.join(tags, tag, 'current/link'), 'utf8')).trim()
        expect(await remoteDigest(`${reg.host}/command/images:${tag}`)).toBe(link)
      }
      expect(await remoteDigest(`${reg.host}/command/images:foobar`)).toBe(corpus.facts.dumpFoobar)
    })
  })
