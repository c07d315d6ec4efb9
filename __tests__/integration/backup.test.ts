// `oci-layout backup` / `restore`, oras 1.3's forms: several tags of a repository with their
// referrers into one layout (a directory or a tar) and back into another repository, skopeo
// checking every digest.
import path from 'node:path'
import { push } from '../../src/transfer/push.js'
import { runCli } from '../helpers/action.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { imageWithArtifacts } from '../helpers/layouts.js'
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
