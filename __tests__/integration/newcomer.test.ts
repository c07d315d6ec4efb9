// What a newcomer trips over, through the action as the runner runs it: inputs that must not
// give a wrong result with exit 0, messages that name the real problem, leftovers of a killed run.
import { existsSync } from 'node:fs'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import path from 'node:path'
import { runAction, startAction, type ActionRun } from '../helpers/action.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { makeImageLayout } from '../helpers/layouts.js'
import { startProxy } from '../helpers/proxy.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { tmpDir } from '../helpers/skopeo.js'

const errorLine = (run: ActionRun): string =>
  run.stdout.split('\n').find((l) => l.startsWith('::error')) ?? ''
const warnings = (run: ActionRun): string[] =>
  run.stdout.split('\n').filter((l) => l.startsWith('::warning'))

describe('what a newcomer trips over', () => {
  let reg: TestRegistry
  let single: { dir: string; digest: string }
  const temps: string[] = []
  const temp = async (prefix: string): Promise<string> => {
    const dir = await tmpDir(prefix)
    temps.push(dir)
    return dir
  }

  beforeAll(async () => {
    reg = await startRegistry()
    const image = await makeImageLayout({ tag: 'v1' })
    temps.push(image.dir)
    single = { dir: image.dir, digest: image.manifest.digest }
    for (const [layout, reference] of [
      [`${single.dir}:v1`, 'org/single:v1'],
      [`${BUILDX}:v1`, 'org/app:v1']
    ]) {
      const run = await runAction({ layout, registry: reg.host, reference })
      expect(errorLine(run)).toBe('')
    }
  })
  afterAll(async () => {
    await reg.stop()
    await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })))
  })

  const pull = (layout: string, extra: Record<string, string> = {}): Promise<ActionRun> =>
    runAction({
      direction: 'pull',
      registry: reg.host,
      reference: 'org/single:v1',
      layout,
      ...extra
    })

  it('a platform a single manifest does not run on fails, as for an index', async () => {
    const out = path.join(await temp('platform-'), 'out')
    const run = await pull(out, { platform: 'linux/s390x' })
    expect(run.code).toBe(1)
    expect(errorLine(run)).toMatch(
      /has no linux\/s390x image \(platforms here: linux\/amd64; pick that one or drop the platform input\)/
    )
    expect(existsSync(path.join(out, 'index.json'))).toBe(false)
    const ok = await pull(out, { platform: 'linux/amd64' })
    expect(errorLine(ok)).toBe('')
    expect(JSON.parse(ok.outputs.platforms)).toEqual(['linux/amd64'])
  })

  it('a pull refuses a non-empty directory that is not a layout, and leaves it as it was', async () => {
    const dir = await temp('checkout-')
    await writeFile(path.join(dir, 'notes.txt'), 'mine\n')
    const run = await pull(dir)
    expect(run.code).toBe(1)
    expect(errorLine(run)).toContain(
      `${dir} is a directory that is not an OCI layout (it holds notes.txt); nothing was written to it`
    )
    expect(await readdir(dir)).toEqual(['notes.txt'])
  })

  it("a layout's own tag names the layout entry, not what was pulled", async () => {
    const dir = path.join(await temp('stable-'), 'layout')
    const run = await pull(`${dir}:stable`)
    expect(errorLine(run)).toBe('')
    expect(run.stdout).toContain(`Pulled ${reg.host}/org/single:v1 (${single.digest})`)
    expect(run.outputs.tags).toBe('stable')
    const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: { annotations: Record<string, string> }[]
    }
    expect(index.manifests[0].annotations).toEqual({
      'io.containerd.image.name': `${reg.host}/org/single:v1`,
      'org.opencontainers.image.ref.name': 'stable'
    })
    // Pulling another image under the same tag says what the tag named before.
    const again = await runAction({
      direction: 'pull',
      registry: reg.host,
      reference: 'org/app:v1',
      layout: `${dir}:stable`
    })
    expect(again.stdout).toContain(`tag stable moved from ${single.digest} to ${BUILDX_DIGEST}`)
  })

  it("a tar pull creates the tar's parent directories", async () => {
    const out = path.join(await temp('parents-'), 'missing', 'sub', 'out.tar')
    const run = await pull(out)
    expect(errorLine(run)).toBe('')
    expect(existsSync(out)).toBe(true)
  })

  it('an invalid bare tag in tags is called an invalid tag', async () => {
    const run = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'org/app:v1',
      tags: '1.0+build'
    })
    expect(run.code).toBe(1)
    expect(errorLine(run)).toMatch(
      /"1\.0\+build" in tags is not a valid tag \(tags are up to 128 of \[A-Za-z0-9_.-\]/
    )
  })

  it('a scheme in reference or registry is dropped alike, and said so', async () => {
    const viaReference = await runAction({
      layout: `${BUILDX}:v1`,
      reference: `https://${reg.host}/org/app:v1`
    })
    expect(errorLine(viaReference)).toBe('')
    expect(warnings(viaReference).join('\n')).toContain(
      `reference "https://${reg.host}/org/app:v1": the https:// scheme is dropped`
    )
    const viaRegistry = await runAction({
      layout: `${BUILDX}:v1`,
      registry: `http://${reg.host}`,
      reference: 'org/app:v1'
    })
    expect(errorLine(viaRegistry)).toBe('')
    expect(warnings(viaRegistry).join('\n')).toContain(
      `registry "http://${reg.host}": the http:// scheme is dropped`
    )
  })

  it('a short digest in a layout selector is an invalid digest; a missing one is named with @', async () => {
    const short = await runAction({
      layout: `${BUILDX}@sha256:0000`,
      registry: reg.host,
      reference: 'org/app:v1'
    })
    expect(errorLine(short)).toContain('has an invalid digest "sha256:0000"')
    const zeros = `sha256:${'0'.repeat(64)}`
    const missing = await runAction({
      direction: 'pull',
      registry: reg.host,
      reference: `org/app@${zeros}`,
      layout: path.join(await temp('missing-'), 'out')
    })
    expect(errorLine(missing)).toContain(`org/app@${zeros} not found`)
  })

  it('a layout URL that answers 404 is named, with the fix', async () => {
    const server = http.createServer((_req, res) => res.writeHead(404).end())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/releases/app.tar`
      const run = await runAction({ layout: url, registry: reg.host, reference: 'org/app:v1' })
      expect(run.code).toBe(1)
      expect(errorLine(run)).toContain(
        `cannot download the layout ${url}: HTTP 404 (check the URL; a release asset must exist`
      )
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
  })

  it('inputs that do not apply get a warning, or an error where the result would surprise', async () => {
    const platformOnPush = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'org/app:v1',
      platform: 'linux/arm64'
    })
    expect(platformOnPush.code).toBe(1)
    expect(errorLine(platformOnPush)).toContain(
      'platform (linux/arm64) applies to a pull; a push sends the image whole'
    )
    const typeWithoutReferrers = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'org/app:v1',
      'artifact-type': 'application/spdx+json'
    })
    expect(errorLine(typeWithoutReferrers)).toBe('')
    expect(warnings(typeWithoutReferrers).join('\n')).toContain(
      'artifact-type (application/spdx+json) is ignored without referrers: true'
    )
    const tagsOnPull = await pull(path.join(await temp('tags-on-pull-'), 'out'), { tags: 'v2' })
    expect(errorLine(tagsOnPull)).toBe('')
    expect(warnings(tagsOnPull).join('\n')).toContain('tags is ignored on a pull')
  })

  it('a push with no tag anywhere warns, naming the tags the layout has', async () => {
    const run = await runAction({ layout: BUILDX, registry: reg.host, reference: 'org/untagged' })
    expect(errorLine(run)).toBe('')
    expect(warnings(run).join('\n')).toContain(
      `nothing names a tag, so ${reg.host}/org/untagged@${BUILDX_DIGEST} is pushed by digest only; the layout tags it v1, latest`
    )
  })

  it('a wrong password from docker config names the file; a near-miss host is named', async () => {
    const secure = await startRegistry({ users: { ci: 'right-password' } })
    try {
      const port = secure.host.split(':')[1]
      const config = await temp('docker-config-')
      const auth = (host: string, secret: string): Promise<void> =>
        writeFile(
          path.join(config, 'config.json'),
          JSON.stringify({ auths: { [host]: { auth: Buffer.from(secret).toString('base64') } } })
        )
      await auth(secure.host, 'ci:wrong-password')
      const wrong = await runAction(
        { layout: `${BUILDX}:v1`, reference: `${secure.host}/org/app:v1` },
        { DOCKER_CONFIG: config }
      )
      expect(errorLine(wrong)).toContain(
        `the credentials came from ${path.join(config, 'config.json')}: log in to ${secure.host} again there`
      )
      expect(errorLine(wrong)).not.toContain('check the username and password inputs')
      await auth(secure.host, 'ci:right-password')
      const nearMiss = await runAction(
        { layout: `${BUILDX}:v1`, reference: `localhost:${port}/org/app:v1` },
        { DOCKER_CONFIG: config }
      )
      expect(errorLine(nearMiss)).toContain(
        `holds credentials for ${secure.host}, not for localhost:${port}`
      )
    } finally {
      await secure.stop()
    }
  })

  it('a killed pull leaves partial files that the next run removes', async () => {
    // A proxy that starts every blob body and never finishes it, so the pull is mid-blob when killed.
    const proxy = await startProxy(reg.host, (req, res) => {
      if (req.method !== 'GET' || !/\/blobs\/sha256:/.test(req.url ?? '')) return false
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '4096' })
      res.write(Buffer.alloc(512))
      return true
    })
    try {
      const base = await temp('killed-')
      for (const layout of [path.join(base, 'dir'), path.join(base, 'out.tar')]) {
        const partials = async (): Promise<string[]> => {
          const dirs = [base, path.join(base, 'dir', 'blobs', 'sha256')]
          const names = await Promise.all(dirs.map((d) => readdir(d).catch(() => [])))
          return names.flat().filter((n) => n.includes('.partial'))
        }
        const { child, done } = await startAction({
          direction: 'pull',
          registry: proxy.host,
          reference: 'org/single:v1',
          layout
        })
        for (let i = 0; i < 500 && (await partials()).length === 0; i++)
          await new Promise((r) => setTimeout(r, 20))
        child.kill('SIGKILL')
        await done
        expect((await partials()).length).toBeGreaterThan(0)
        const rerun = await pull(layout)
        expect(errorLine(rerun)).toBe('')
        expect(await partials()).toEqual([])
      }
    } finally {
      await proxy.stop()
    }
  })

  it('a registry still starting (connection refused) is retried briefly', async () => {
    // A port that refuses until a forwarder to the registry starts listening on it, a second in.
    const spare = net.createServer()
    await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r))
    const port = (spare.address() as AddressInfo).port
    await new Promise<void>((r) => spare.close(() => r()))
    const [upHost, upPort] = reg.host.split(':')
    const forwarder = net.createServer((socket) => {
      const up = net.connect(Number(upPort), upHost)
      socket.pipe(up).pipe(socket)
      up.on('error', () => socket.destroy())
      socket.on('error', () => up.destroy())
    })
    const later = setTimeout(() => forwarder.listen(port, '127.0.0.1'), 1000)
    try {
      const run = await runAction({
        layout: `${BUILDX}:v1`,
        registry: `127.0.0.1:${port}`,
        reference: 'org/late:v1'
      })
      expect(errorLine(run)).toBe('')
      expect(run.stdout).toMatch(
        /connection refused; retrying \(the registry may still be starting\)/
      )
    } finally {
      clearTimeout(later)
      await new Promise<void>((r) => forwarder.close(() => r()))
    }
  })

  it('chunk-size says how it reads MB', async () => {
    const run = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'org/app:v1',
      'chunk-size': '10MB'
    })
    expect(errorLine(run)).toBe('')
    expect(run.stdout).toContain(
      'chunk-size 10MB is read as 10 MiB (10485760 bytes): units are powers of 1024'
    )
  })
})
