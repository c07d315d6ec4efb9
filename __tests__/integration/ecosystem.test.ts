// The action among other actions: several tags and repositories, outputs and the job summary as
// a runner sees them, a layout from a URL, and the CLI.
import { execFile } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { splitTags } from '../../src/inputs.js'
import { CLI_BUNDLE, runAction } from '../helpers/action.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'
import { checkLayout } from '../helpers/verify.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'

const execFileP = promisify(execFile)

describe('the action in a workflow', () => {
  let reg: TestRegistry
  let other: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry()
    other = await startRegistry({ users: { mirror: 'mirror-pass' } })
  })
  afterAll(async () => {
    await reg.stop()
    await other.stop()
  })

  it('pushes a metadata-action-shaped tags value: several references, two repositories, two registries, one digest', async () => {
    const summaryFile = path.join(await tmpDir('summary-'), 'summary.md')
    await writeFile(summaryFile, '')
    // docker/login-action would have written the second registry's credentials here.
    const dockerConfig = await tmpDir('docker-config-')
    await writeFile(
      path.join(dockerConfig, 'config.json'),
      JSON.stringify({
        auths: { [other.host]: { auth: Buffer.from('mirror:mirror-pass').toString('base64') } }
      })
    )
    const tags = [
      `${reg.host}/org/app:v1.2.3`,
      `${reg.host}/org/app:latest`,
      `${reg.host}/org/mirror:v1.2.3`,
      `${other.host}/backup/app:v1.2.3`
    ].join('\r\n')
    const run = await runAction(
      { layout: `${BUILDX}:v1`, reference: `${reg.host}/org/app:v1.2.3`, tags },
      { GITHUB_STEP_SUMMARY: summaryFile, DOCKER_CONFIG: dockerConfig }
    )
    expect(run.stdout).not.toMatch(/::error/)
    expect(run.code).toBe(0)
    for (const ref of tags.split('\r\n'))
      expect(
        await remoteDigest(ref, ref.startsWith(other.host) ? 'mirror:mirror-pass' : undefined)
      ).toBe(BUILDX_DIGEST)
    // The second repository of the same registry got its layers by mount, not upload.
    const mirrorGroup =
      run.stdout
        .split('::group::')
        .find((g) => g.startsWith(`Pushing to ${reg.host}/org/mirror`)) ?? ''
    expect(mirrorGroup).toMatch(/blob +[0-9a-f]{12} +[\d.]+ KiB +mounted/)
    expect(mirrorGroup).not.toMatch(/blob .* uploaded/)
    expect(run.outputs.digest).toBe(BUILDX_DIGEST)
    expect(run.outputs.reference).toBe(`${reg.host}/org/app@${BUILDX_DIGEST}`)
    expect(run.outputs.tags.split('\n')).toEqual(tags.split('\r\n'))
    expect(JSON.parse(run.outputs.platforms)).toEqual(['linux/amd64', 'linux/arm64'])
    const meta = JSON.parse(run.outputs.metadata) as {
      digest: string
      references: { reference: string; tags: string[] }[]
    }
    expect(meta.digest).toBe(BUILDX_DIGEST)
    expect(meta.references.map((r) => r.reference)).toEqual([
      `${reg.host}/org/app@${BUILDX_DIGEST}`,
      `${reg.host}/org/mirror@${BUILDX_DIGEST}`,
      `${other.host}/backup/app@${BUILDX_DIGEST}`
    ])
    const summary = await readFile(summaryFile, 'utf8')
    expect(summary).toContain(`| digest | \`${BUILDX_DIGEST}\` |`)
    expect(summary).toContain('| platforms | linux/amd64, linux/arm64 |')
    // One row per destination; the per-blob rows folded under each.
    expect(summary).toMatch(
      /\| `127\.0\.0\.1:\d+\/org\/mirror` \| `v1\.2\.3` \| \d+ \| [1-9]\d* \| \d+ \| [\d.]+ (B|KiB) \|/
    )
    expect(summary).toMatch(
      /<summary>127\.0\.0\.1:\d+\/org\/mirror: [^<]*<\/summary>[^]*?\| `[0-9a-f]{12}` \| blob \| [\d.]+ KiB \| mounted \|[^]*?<\/details>/
    )
  })

  it('mounts from mount-from repositories in a later, separate push, and uploads what they lack', async () => {
    const staging = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'stage/app:v1'
    })
    expect(staging.code).toBe(0)
    // An empty repository first: its failed mounts must not cost the upload of anything.
    const release = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'release/app:v1',
      'mount-from': `nothing/here\n${reg.host}/stage/app`
    })
    expect(release.stdout).not.toMatch(/::error/)
    expect(release.code).toBe(0)
    expect(release.stdout).toMatch(/blob +[0-9a-f]{12} +[\d.]+ KiB +mounted/)
    expect(release.stdout).not.toMatch(/^\s*blob .* uploaded$/m)
    expect(await remoteDigest(`${reg.host}/release/app:v1`)).toBe(BUILDX_DIGEST)

    // A repository without the blobs: the push uploads them as usual.
    const fresh = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'fresh/app:v1',
      'mount-from': 'nothing/here'
    })
    expect(fresh.code).toBe(0)
    expect(fresh.stdout).toMatch(/^\s*blob .* uploaded$/m)
    expect(fresh.stdout).not.toMatch(/mounted/)

    const wrong = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'fresh/app:v2',
      'mount-from': 'elsewhere.example/stage/app'
    })
    expect(wrong.code).toBe(1)
    expect(wrong.stdout).toMatch(
      /::error.*mount-from elsewhere\.example\/stage\/app is on elsewhere\.example/
    )
  })

  it('writes no summary when summary is false, and logs in groups', async () => {
    const summaryFile = path.join(await tmpDir('summary-'), 'summary.md')
    await writeFile(summaryFile, '')
    const run = await runAction(
      {
        layout: `${BUILDX}:v1`,
        registry: reg.host,
        reference: 'org/nosummary:v1',
        summary: 'false'
      },
      { GITHUB_STEP_SUMMARY: summaryFile }
    )
    expect(run.code).toBe(0)
    expect(await readFile(summaryFile, 'utf8')).toBe('')
    // The transfer in a group of its own; groups close as they open.
    expect(run.stdout).toMatch(/^::group::Pushing to 127\.0\.0\.1:\d+\/org\/nosummary$/m)
    expect(run.stdout.match(/::endgroup::/g)?.length).toBe(run.stdout.match(/::group::/g)?.length)
    expect(run.stdout).not.toMatch(/::debug::/)
  })

  it('downloads a layout given as a URL', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      createReadStream(BUILDX).pipe(res)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/releases/app.tar`
      const run = await runAction({
        layout: `${url}:latest`,
        registry: reg.host,
        reference: 'org/from-url'
      })
      expect(run.stdout).not.toMatch(/::error/)
      expect(run.outputs.digest).toBe(BUILDX_DIGEST)
      expect(run.outputs.tags).toBe(`${reg.host}/org/from-url:latest`)
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
  })

  it('the CLI pushes and pulls', async () => {
    const cli = CLI_BUNDLE
    const pushed = await execFileP(process.execPath, [
      cli,
      'push',
      '--layout',
      `${BUILDX}:v1`,
      '--reference',
      `${reg.host}/cli/app:v1`,
      '--tags',
      'extra'
    ])
    expect(pushed.stdout.trim()).toBe(BUILDX_DIGEST)
    expect(await remoteDigest(`${reg.host}/cli/app:extra`)).toBe(BUILDX_DIGEST)
    const out = path.join(await tmpDir('cli-pull-'), 'app.tar')
    const pulled = await execFileP(process.execPath, [
      cli,
      'pull',
      '--reference',
      `${reg.host}/cli/app:v1`,
      '--layout',
      out,
      '--platform',
      'linux/arm64'
    ])
    expect(pulled.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/)
    const dir = await tmpDir('cli-extract-')
    await execFileP('tar', ['-xf', out, '-C', dir])
    await checkLayout(dir)
    const failed = await execFileP(process.execPath, [
      cli,
      'push',
      '--layout',
      '/nope.tar',
      '--reference',
      `${reg.host}/cli/app:v1`
    ]).catch((e: { code: number; stderr: string }) => e)
    expect(failed).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: layout \/nope\.tar does not exist/)
    })
  })
})

describe('multi-line inputs', () => {
  it('split on newlines (CRLF too) and commas', () => {
    expect(splitTags('a\r\nb, c\n\n  d  ,')).toEqual(['a', 'b', 'c', 'd'])
    expect(splitTags('')).toEqual([])
  })
})
