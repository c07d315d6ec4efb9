// `oci-layout backup` / `restore`, oras 1.3's forms: several tags of a repository with their
// referrers into one layout (a directory or a tar) and back into another repository, skopeo
// checking every digest.
import path from 'node:path'
import { push } from '../../src/transfer/push.js'
import { runCli } from '../helpers/action.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { generateLayout } from '../helpers/generate.js'
import { imageWithArtifacts } from '../helpers/layouts.js'
import { startProxy } from '../helpers/proxy.js'
import { headStatus, startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'
import { checkLayout } from '../helpers/verify.js'

let reg: TestRegistry
let signed: Awaited<ReturnType<typeof imageWithArtifacts>>
beforeAll(async () => {
  reg = await startRegistry()
  signed = await imageWithArtifacts(['sbom', 'sig'])
  await push({ layout: `${BUILDX}:v1`, registry: reg.host, reference: 'bk/app:v1' })
  await push({
    layout: `${signed.dir}:v1`,
    registry: reg.host,
    reference: 'bk/app:v2',
    referrers: true
  })
})
afterAll(async () => {
  await reg.stop()
})

it.each(['dir', 'backup.tar'])(
  'backs up two tags with referrers into a layout (%s) and restores them elsewhere',
  async (name) => {
    const layout = path.join(await tmpDir('backup-'), name)
    const saved = await runCli(['backup', '--output', layout, `${reg.host}/bk/app:v1,v2`])
    expect(saved.stderr).toBe('')
    expect(saved.code).toBe(0)
    expect(saved.stdout).toContain(`Backed up v1: ${BUILDX_DIGEST}\n`)
    expect(saved.stdout).toContain(`Backed up v2: ${signed.image.digest}\n`)
    if (name === 'dir') await checkLayout(layout)

    const repo = `rs${name === 'dir' ? 'd' : 't'}/app`
    const restored = await runCli(['restore', '--input', layout, `${reg.host}/${repo}`])
    expect(restored.code).toBe(0)
    expect(await remoteDigest(`${reg.host}/${repo}:v1`)).toBe(BUILDX_DIGEST)
    expect(await remoteDigest(`${reg.host}/${repo}:v2`)).toBe(signed.image.digest)
    // The referrers came along, findable through the fallback tag.
    const fallback = `sha256-${signed.image.digest.slice(7)}`
    expect(await headStatus(reg.host, `/v2/${repo}/manifests/${fallback}`)).toBe(200)
  }
)

it('restores only the tags asked; a backup without tags is a usage error', async () => {
  const layout = path.join(await tmpDir('backup-'), 'dir')
  expect((await runCli(['backup', '-o', layout, `${reg.host}/bk/app:v1,v2`])).code).toBe(0)
  const run = await runCli(['restore', '-i', layout, `${reg.host}/one/app:v2`])
  expect(run.code).toBe(0)
  expect(await remoteDigest(`${reg.host}/one/app:v2`)).toBe(signed.image.digest)
  expect(await headStatus(reg.host, '/v2/one/app/manifests/v1')).toBe(404)

  const none = await runCli(['backup', '-o', layout, `${reg.host}/bk/app`])
  expect(none.code).toBe(1)
  expect(none.stderr).toMatch(/names no tag to back up.*host\/repo:v1,v2/)
  const usage = await runCli(['backup', `${reg.host}/bk/app:v1`])
  expect(usage.code).toBe(2)
  // Credentials go as a pair, checked before any work (the same reading for every command).
  const half = await runCli(['backup', '-o', layout, '-p', 'x', `${reg.host}/bk/app:v1`])
  expect(half).toMatchObject({
    code: 2,
    stderr: expect.stringMatching(/--password goes with --username/)
  })
})

it('restores tags that share layers asking about each shared layer once', async () => {
  const work = await tmpDir('backup-shared-')
  // One seed and place: the first two layers are the same bytes in all three images.
  const sizes = [
    [700_000, 4096],
    [700_000, 4096, 5000],
    [700_000, 4096, 6000]
  ]
  for (const [i, layers] of sizes.entries()) {
    const made = await generateLayout({
      out: path.join(work, `img${i}.tar`),
      format: 'tar',
      layers,
      tags: ['v1'],
      seed: 41
    })
    await push({ layout: `${made.path}:v1`, registry: reg.host, reference: `sh/app:t${i}` })
  }
  const layout = path.join(work, 'dir')
  expect((await runCli(['backup', '-o', layout, `${reg.host}/sh/app:t0,t1,t2`])).code).toBe(0)
  const proxy = await startProxy(reg.host)
  try {
    const run = await runCli(['restore', '-i', layout, `${proxy.host}/sh/copy`])
    expect(run.code).toBe(0)
    for (const i of [0, 1, 2])
      expect(await remoteDigest(`${reg.host}/sh/copy:t${i}`)).toBe(
        await remoteDigest(`${reg.host}/sh/app:t${i}`)
      )
    // Each blob is asked about (HEAD, or the POST that opens its upload) once in the whole restore.
    const asked = new Map<string, number>()
    for (const r of proxy.log) {
      const url = new URL(r.url, 'http://x')
      const digest =
        r.method === 'HEAD' && url.pathname.includes('/blobs/')
          ? url.pathname.split('/').pop()
          : r.method === 'POST'
            ? (url.searchParams.get('mount') ?? undefined)
            : undefined
      if (digest) asked.set(digest, (asked.get(digest) ?? 0) + 1)
    }
    // 2 shared layers, 2 own layers and 3 configs.
    expect(asked.size).toBe(7)
    expect(Math.max(...asked.values())).toBe(1)
  } finally {
    await proxy.stop()
  }
})
