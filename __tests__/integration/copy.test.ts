// `oci-layout cp SRC DST` in its four directions, and the action's `direction: copy`: what lands
// is checked by skopeo and by walking the layouts written, never by the project itself.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { runAction, runCli } from '../helpers/action.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { imageWithArtifacts } from '../helpers/layouts.js'
import { startProxy } from '../helpers/proxy.js'
import { headStatus, startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, skopeo, tmpDir } from '../helpers/skopeo.js'
import { checkLayout, extractTar } from '../helpers/verify.js'

const cli = runCli

const BOB = { username: 'bob', password: 'bob-pass-1' }
const BOB_BASIC = `Basic ${Buffer.from(`${BOB.username}:${BOB.password}`).toString('base64')}`
const entryTag = (e: { annotations?: Record<string, string> }): string | undefined =>
  e.annotations?.['org.opencontainers.image.ref.name']

describe('copy: oci-layout cp and direction: copy', () => {
  let open: TestRegistry // anonymous
  let locked: TestRegistry // htpasswd: bob only
  beforeAll(async () => {
    ;[open, locked] = await Promise.all([
      startRegistry(),
      startRegistry({ users: { [BOB.username]: BOB.password } })
    ])
    // The source of the registry-side copies, put there by the flag form of push.
    const seed = await cli([
      'push',
      '--layout',
      `${BUILDX}:v1`,
      '--reference',
      `${open.host}/src/app:v1`
    ])
    expect(seed.stderr).not.toMatch(/^error/m)
  })
  afterAll(async () => {
    await Promise.all([open?.stop(), locked?.stop()])
  })

  it('layout tar → registry: prints the layout digest, oras-style, and skopeo sees it', async () => {
    const run = await cli([
      'cp',
      '--from-oci-layout',
      `${BUILDX}:v1`,
      `${open.host}/hello-artifact:v1`
    ])
    expect(run).toEqual({
      code: 0,
      stdout:
        `Copied [oci-layout] ${BUILDX}:v1 => [registry] ${open.host}/hello-artifact:v1\n` +
        `Digest: ${BUILDX_DIGEST}\n`,
      stderr: ''
    })
    expect(await remoteDigest(`${open.host}/hello-artifact:v1`)).toBe(BUILDX_DIGEST)

    const json = await cli([
      'cp',
      '--format',
      'json',
      '--from-oci-layout',
      `${BUILDX}:v1`,
      `${open.host}/hello-json:v1`
    ])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toEqual({
      digest: BUILDX_DIGEST,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      size: expect.any(Number),
      reference: `${open.host}/hello-json@${BUILDX_DIGEST}`
    })
  })

  it('registry → registry: the destination its own credentials, the tag the source’s', async () => {
    const dst = `${locked.host}/dst/app`
    const refused = await cli(['cp', `${open.host}/src/app:v1`, dst])
    expect(refused.code).toBe(1)
    expect(refused.stderr.trim().split('\n')).toHaveLength(1)
    expect(refused.stderr).toMatch(/^error: registry .* requires authentication .*--to-username/)
    expect(await headStatus(locked.host, '/v2/dst/app/manifests/v1', BOB_BASIC)).toBe(404)

    const run = await cli([
      'cp',
      `${open.host}/src/app:v1`,
      dst,
      '--to-username',
      BOB.username,
      '--to-password',
      BOB.password
    ])
    expect(run.stderr).not.toMatch(/^error/m)
    expect(run.code).toBe(0)
    expect(run.stdout).toBe(
      `Copied [registry] ${open.host}/src/app:v1 => [registry] ${dst}\nDigest: ${BUILDX_DIGEST}\n`
    )
    expect(await remoteDigest(`${dst}:v1`, `${BOB.username}:${BOB.password}`)).toBe(BUILDX_DIGEST)
  })

  it('registry → registry on one registry: every blob is mounted, none uploaded', async () => {
    const proxy = await startProxy(open.host)
    try {
      const run = await cli(['cp', `${proxy.host}/src/app:v1`, `${proxy.host}/mirror/app:v2`])
      expect(run.stderr).not.toMatch(/^error/m)
      expect(run.stdout).toContain(`Digest: ${BUILDX_DIGEST}\n`)
      expect(await remoteDigest(`${open.host}/mirror/app:v2`)).toBe(BUILDX_DIGEST)
      const blobWrites = proxy.log.filter(
        (r) => /\/blobs\/uploads\//.test(r.url) && (r.method === 'PUT' || r.method === 'PATCH')
      )
      const mounts = proxy.log.filter((r) => r.method === 'POST' && r.url.includes('mount='))
      expect(blobWrites).toEqual([])
      expect(mounts.length).toBeGreaterThan(0)
      expect(
        mounts.every((r) => r.url.includes('from=src%2Fapp') || r.url.includes('from=src/app'))
      ).toBe(true)
    } finally {
      await proxy.stop()
    }
  })

  it('registry → layout and layout → layout: valid layouts holding the same digest', async () => {
    const dir = await tmpDir('cp-layouts-')
    const pulled = path.join(dir, 'pulled')
    const run = await cli(['cp', `${open.host}/src/app:v1`, '--to-oci-layout', pulled])
    expect(run.stderr).not.toMatch(/^error/m)
    expect(run.stdout).toBe(
      `Copied [registry] ${open.host}/src/app:v1 => [oci-layout] ${pulled}\nDigest: ${BUILDX_DIGEST}\n`
    )
    const a = await checkLayout(pulled)
    expect(a.entries.map((e) => [e.digest, entryTag(e)])).toEqual([[BUILDX_DIGEST, 'v1']])

    // A tar, from a tar: the tag follows the source's, as the destination names none.
    const copied = path.join(dir, 'copy.tar')
    const local = await cli([
      'cp',
      '--format=json',
      '--from-oci-layout',
      `${BUILDX}:v1`,
      '--to-oci-layout',
      copied
    ])
    expect(local.stderr).toBe('')
    expect(JSON.parse(local.stdout)).toMatchObject({
      digest: BUILDX_DIGEST,
      reference: `${copied}@${BUILDX_DIGEST}`
    })
    const b = await checkLayout(await extractTar(copied))
    expect(b.entries.map((e) => [e.digest, entryTag(e)])).toEqual([[BUILDX_DIGEST, 'v1']])
    expect(b.blobs).toBe(a.blobs)

    // A tag of its own in the destination, into a directory.
    const retagged = path.join(dir, 'retagged')
    expect(
      (await cli(['cp', '--from-oci-layout', copied, '--to-oci-layout', `${retagged}:v9`])).code
    ).toBe(0)
    const c = await checkLayout(retagged)
    expect(c.entries.map((e) => [e.digest, entryTag(e)])).toEqual([[BUILDX_DIGEST, 'v9']])
  })

  it('--platform copies one platform’s manifest, from a registry or a layout', async () => {
    const { stdout } = await skopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${open.host}/src/app:v1`
    ])
    const index = JSON.parse(stdout) as {
      manifests: { digest: string; platform?: { architecture: string } }[]
    }
    const arm = index.manifests.find((m) => m.platform?.architecture === 'arm64')?.digest
    expect(arm).toMatch(/^sha256:/)
    const run = await cli([
      'cp',
      '--platform',
      'linux/arm64',
      `${open.host}/src/app:v1`,
      `${open.host}/one/app`
    ])
    expect(run.stdout).toContain(`Digest: ${arm}\n`)
    expect(await remoteDigest(`${open.host}/one/app:v1`)).toBe(arm)

    const out = path.join(await tmpDir('cp-platform-'), 'arm')
    const local = await cli([
      'cp',
      '--platform=linux/arm64',
      '--from-oci-layout',
      `${BUILDX}:v1`,
      '--to-oci-layout',
      out
    ])
    expect(local.code).toBe(0)
    const c = await checkLayout(out)
    expect(c.entries.map((e) => [e.digest, entryTag(e)])).toEqual([[arm, 'v1']])
  })

  it('-r carries the referrers; without it they stay behind', async () => {
    const { dir, image, artifacts } = await imageWithArtifacts(['sbom'])
    const fallback = (repo: string): Promise<number> =>
      headStatus(open.host, `/v2/${repo}/manifests/${image.digest.replace(':', '-')}`)
    const sbom = (repo: string): Promise<number> =>
      headStatus(open.host, `/v2/${repo}/manifests/${artifacts[0].digest}`)
    expect(
      (await cli(['cp', '-r', '--from-oci-layout', `${dir}:v1`, `${open.host}/ref/app:v1`])).code
    ).toBe(0)
    expect(await sbom('ref/app')).toBe(200)

    expect((await cli(['cp', `${open.host}/ref/app:v1`, `${open.host}/ref/bare:v1`])).code).toBe(0)
    expect(await sbom('ref/bare')).toBe(404)
    expect(await fallback('ref/bare')).toBe(404)

    const run = await cli(['cp', '--recursive', `${open.host}/ref/app:v1`, `${open.host}/ref/copy`])
    expect(run.stdout).toContain(`Digest: ${image.digest}\n`)
    expect(await sbom('ref/copy')).toBe(200)
    expect(await fallback('ref/copy')).toBe(200)

    const out = path.join(await tmpDir('cp-ref-'), 'out')
    expect((await cli(['cp', '-r', `${open.host}/ref/copy:v1`, '--to-oci-layout', out])).code).toBe(
      0
    )
    const index = JSON.parse(await readFile(path.join(out, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[]
    }
    expect(index.manifests.map((m) => m.digest).sort()).toEqual(
      [image.digest, artifacts[0].digest].sort()
    )
  })

  it('usage mistakes exit 2 with one line', async () => {
    for (const args of [
      ['cp', `${open.host}/src/app:v1`],
      ['cp', '--bogus', 'a', 'b'],
      ['cp', 'a/b:v1', 'c/d:v1', '--to-username', 'bob'],
      [
        'cp',
        '--from-oci-layout',
        'x.tar',
        'c/d:v1',
        '--from-username',
        'u',
        '--from-password',
        'p'
      ],
      ['cp', '--format', 'yaml', 'a/b:v1', 'c/d:v1']
    ]) {
      const run = await cli(args)
      expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code: 2, stdout: '' })
      expect(run.stderr).toMatch(/^error: /)
      expect(run.stderr.trim().split('\n')).toHaveLength(1)
    }
  })

  describe('the action, direction: copy', () => {
    it('between two registries, each side with its credentials; outputs as a push', async () => {
      // Into the locked registry with username/password...
      const into = await runAction({
        direction: 'copy',
        source: `${open.host}/src/app:v1`,
        reference: `${locked.host}/act/app`,
        tags: 'extra',
        username: BOB.username,
        password: BOB.password
      })
      expect(into.errors).toEqual([])
      expect(into.code).toBe(0)
      expect(into.outputs).toMatchObject({
        digest: BUILDX_DIGEST,
        reference: `${locked.host}/act/app@${BUILDX_DIGEST}`,
        tags: `${locked.host}/act/app:v1\n${locked.host}/act/app:extra`,
        'media-type': 'application/vnd.oci.image.index.v1+json'
      })
      expect(JSON.parse(into.outputs.platforms)).toEqual(expect.arrayContaining(['linux/amd64']))
      for (const tag of ['v1', 'extra'])
        expect(await remoteDigest(`${locked.host}/act/app:${tag}`, 'bob:bob-pass-1')).toBe(
          BUILDX_DIGEST
        )

      // ...and out of it with source-username/source-password, the password masked.
      const out = await runAction({
        direction: 'copy',
        source: `${locked.host}/act/app:extra`,
        'source-username': BOB.username,
        'source-password': BOB.password,
        reference: `${open.host}/act/back:v2`
      })
      expect(out.errors).toEqual([])
      expect(out.code).toBe(0)
      expect(out.outputs.digest).toBe(BUILDX_DIGEST)
      expect(out.stdout).toContain(`::add-mask::${BOB.password}`)
      expect(await remoteDigest(`${open.host}/act/back:v2`)).toBe(BUILDX_DIGEST)

      const without = await runAction({
        direction: 'copy',
        source: `${locked.host}/act/app:extra`,
        reference: `${open.host}/act/nope:v2`
      })
      expect(without.code).toBe(1)
      expect(without.errors).toEqual([
        expect.stringMatching(/Copy failed::.*requires authentication.*source-username/)
      ])
      expect(await headStatus(open.host, '/v2/act/nope/manifests/v2')).toBe(404)
    })

    it('a wrong source tag fails with one clear line and tags nothing', async () => {
      const run = await runAction({
        direction: 'copy',
        source: `${open.host}/src/app:nope`,
        reference: `${open.host}/act/wrong:v1`,
        layout: 'ignored.tar'
      })
      expect(run.code).toBe(1)
      expect(run.errors).toHaveLength(1)
      expect(run.errors[0]).toMatch(/title=Copy failed::.*src\/app.*\bnope\b/)
      expect(run.stdout).toContain('::warning::layout (ignored.tar) is ignored on a copy')
      expect(await headStatus(open.host, '/v2/act/wrong/manifests/v1')).toBe(404)

      const none = await runAction({ direction: 'copy', reference: `${open.host}/act/x:v1` })
      expect(none.code).toBe(1)
      expect(none.errors).toEqual([expect.stringMatching(/the source input is empty/)])
    })
  })
})
