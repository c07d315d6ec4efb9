// Per-platform builds (BuildKit-style tars, each one platform plus its attestation manifest)
// merged into one multi-platform index: what lands is read back by skopeo, never by the project.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { runAction, runCli } from '../helpers/action.js'
import { generateLayout } from '../helpers/generate.js'
import { startProxy } from '../helpers/proxy.js'
import { headStatus, startRegistry, type TestRegistry } from '../helpers/registry.js'
import { copyToOciDir, pushWithSkopeo, remoteDigest, skopeo, tmpDir } from '../helpers/skopeo.js'
import { checkLayout } from '../helpers/verify.js'

interface Entry {
  mediaType: string
  digest: string
  platform?: { os: string; architecture: string }
  annotations?: Record<string, string>
}
interface Index {
  mediaType: string
  manifests: Entry[]
  annotations?: Record<string, string>
}

const INDEX = 'application/vnd.oci.image.index.v1+json'
const digestLine = (out: string): string => /^Digest: (sha256:[0-9a-f]{64})$/m.exec(out)?.[1] ?? ''

async function rawIndex(ref: string): Promise<Index> {
  const { stdout } = await skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`])
  return JSON.parse(stdout) as Index
}

describe('merge: per-platform layouts into one index', () => {
  let reg: TestRegistry
  let amd64: string
  let arm64: string
  let otherArm64: string
  let children: { amd64: string; arm64: string }
  let first: Awaited<ReturnType<typeof runCli>>
  let merged = ''
  beforeAll(async () => {
    const dir = await tmpDir('merge-')
    const gen = (name: string, platform: string, seed: number) =>
      generateLayout({
        out: path.join(dir, name),
        format: 'tar',
        platforms: [platform],
        layers: [20000],
        attestations: true,
        tags: ['v1'],
        seed
      })
    ;[reg, { path: amd64 }, { path: arm64 }, { path: otherArm64 }] = await Promise.all([
      startRegistry(),
      gen('app-amd64.tar', 'linux/amd64', 1),
      gen('app-arm64.tar', 'linux/arm64', 2),
      gen('other-arm64.tar', 'linux/arm64', 3)
    ])
    const platformDigest = async (tar: string): Promise<string> => {
      const { stdout } = await skopeo(['inspect', '--raw', `oci-archive:${tar}:v1`])
      const index = JSON.parse(stdout) as Index
      return index.manifests.find((m) => m.platform?.os === 'linux')?.digest ?? ''
    }
    children = { amd64: await platformDigest(amd64), arm64: await platformDigest(arm64) }
    // The first merge, which every test compares with, so each test also passes alone.
    first = await runCli(['merge', arm64, `${amd64}:v1`, `${reg.host}/m/app:v1`])
    merged = digestLine(first.stdout)
  })
  afterAll(async () => {
    await reg?.stop()
  })

  it('pushes one index: both platforms, each followed by its attestation, skopeo copies all', async () => {
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toContain(`Merged 2 platforms => [registry] ${reg.host}/m/app:v1`)
    expect(merged).toMatch(/^sha256:/)
    expect(await remoteDigest(`${reg.host}/m/app:v1`)).toBe(merged)
    const index = await rawIndex(`${reg.host}/m/app:v1`)
    expect(index.mediaType).toBe(INDEX)
    // Sorted by platform (amd64 before arm64), each attestation right after its manifest.
    expect(index.manifests.map((m) => m.platform?.architecture)).toEqual([
      'amd64',
      'unknown',
      'arm64',
      'unknown'
    ])
    expect(index.manifests[0].digest).toBe(children.amd64)
    expect(index.manifests[2].digest).toBe(children.arm64)
    for (const i of [1, 3]) {
      expect(index.manifests[i].annotations?.['vnd.docker.reference.type']).toBe(
        'attestation-manifest'
      )
      expect(index.manifests[i].annotations?.['vnd.docker.reference.digest']).toBe(
        index.manifests[i - 1].digest
      )
    }
    const out = await tmpDir('merge-pulled-')
    await copyToOciDir(`${reg.host}/m/app:v1`, out, undefined, { preserveDigests: true })
    const pulled = JSON.parse(await readFile(path.join(out, 'index.json'), 'utf8')) as Index
    expect(pulled.manifests[0].digest).toBe(merged)
    await checkLayout(out)
  })

  it('gives the same digest whatever the order of the layouts', async () => {
    const run = await runCli(['merge', amd64, arm64, `${reg.host}/m/app:v2`, '--format', 'json'])
    expect(run.code).toBe(0)
    const json = JSON.parse(run.stdout) as { digest: string; platforms: string[] }
    expect(json.digest).toBe(merged)
    expect(json.platforms).toEqual(['linux/amd64', 'linux/arm64'])
  })

  it('a re-run of the same merge costs one HEAD: nothing uploaded, the tag written again', async () => {
    expect((await runCli(['merge', arm64, amd64, `${reg.host}/m/again:v1`])).code).toBe(0)
    const proxy = await startProxy(reg.host)
    try {
      const run = await runCli(['merge', amd64, arm64, `${proxy.host}/m/again:v1`])
      expect(run.code).toBe(0)
      expect(digestLine(run.stdout)).toBe(merged)
      const asked = proxy.log.filter((r) => r.url !== '/v2/').map((r) => `${r.method} ${r.url}`)
      expect(asked).toEqual([
        `HEAD /v2/m/again/manifests/${merged}`,
        'PUT /v2/m/again/manifests/v1'
      ])
    } finally {
      await proxy.stop()
    }
  })

  it('refuses two different images of one platform, naming both layouts; no tag written', async () => {
    const run = await runCli(['merge', amd64, arm64, otherArm64, `${reg.host}/m/clash:v1`])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(arm64)
    expect(run.stderr).toContain(otherArm64)
    expect(run.stderr).toContain('linux/arm64')
    expect(await headStatus(reg.host, '/v2/m/clash/manifests/v1')).toBe(404)
  })

  it('folds the same layout named twice', async () => {
    const run = await runCli(['merge', amd64, arm64, arm64, `${reg.host}/m/app:v3`])
    expect(run.code).toBe(0)
    expect(digestLine(run.stdout)).toBe(merged)
  })

  it('writes the merged index into a layout that skopeo pushes to the same digest', async () => {
    const dir = path.join(await tmpDir('merge-layout-'), 'out')
    const run = await runCli(['merge', amd64, arm64, '--to-oci-layout', `${dir}:v1`])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`Merged 2 platforms => [oci-layout] ${dir}:v1`)
    expect(digestLine(run.stdout)).toBe(merged)
    await checkLayout(dir)
    await pushWithSkopeo(`oci:${dir}:v1`, `${reg.host}/m/skopeo:v1`, undefined, {
      preserveDigests: true
    })
    expect(await remoteDigest(`${reg.host}/m/skopeo:v1`)).toBe(merged)
  })

  it('the action merges newline-separated layouts, with the index annotations', async () => {
    const run = await runAction({
      layout: `${amd64}\n${arm64}:v1\n`,
      registry: reg.host,
      reference: 'm/action:v1',
      tags: 'latest',
      annotations: 'org.opencontainers.image.source=https://example.com/app\n'
    })
    expect(run.errors).toEqual([])
    expect(run.code).toBe(0)
    expect(run.outputs.digest).toBe(await remoteDigest(`${reg.host}/m/action:latest`))
    expect(JSON.parse(run.outputs.platforms)).toEqual(['linux/amd64', 'linux/arm64'])
    const index = await rawIndex(`${reg.host}/m/action:v1`)
    expect(index.annotations).toEqual({
      'org.opencontainers.image.source': 'https://example.com/app'
    })
    expect(index.manifests.map((m) => m.digest)).toEqual(
      (await rawIndex(`${reg.host}/m/app:v1`)).manifests.map((m) => m.digest)
    )
  })
})
