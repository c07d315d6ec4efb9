// The ORAS page "Distributing OCI Layouts", command for command, with `oras` replaced by the CLI:
// a buildx tar copied to a registry, then pulled as an artifact from the registry and from the
// layout, each printing the layout's digest; and files pushed by the CLI pulled back byte for byte.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { runCli, type CliRun } from '../helpers/action.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'

const cli = (args: string[], cwd?: string): Promise<CliRun> => runCli(args, { cwd })

const lastLine = (run: CliRun): string => run.stdout.trim().split('\n').at(-1) ?? ''

/** Every file under a directory, relative, with its bytes. */
async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue
    const p = path.join(e.parentPath, e.name)
    out[path.relative(dir, p)] = (await readFile(p)).toString('base64')
  }
  return out
}

let reg: TestRegistry
beforeAll(async () => {
  reg = await startRegistry()
})
afterAll(async () => {
  await reg.stop()
})

it("the seed's three commands print the layout's digest", async () => {
  const ref = `${reg.host}/hello-artifact:v1`
  // oras cp --from-oci-layout ./hello-world.tar:v1 localhost:5000/hello-artifact:v1
  const cp = await cli(['cp', '--from-oci-layout', `${BUILDX}:v1`, ref])
  expect(cp.stderr).toBe('')
  expect(cp.code).toBe(0)
  expect(cp.stdout).toContain(`Copied [oci-layout] ${BUILDX}:v1 => [registry] ${ref}\n`)
  expect(lastLine(cp)).toBe(`Digest: ${BUILDX_DIGEST}`)
  expect(await remoteDigest(ref)).toBe(BUILDX_DIGEST)

  // oras pull localhost:5000/hello-artifact:v1: an image has no titled layers, so no files.
  const out = await tmpDir('seed-out-')
  const pulled = await cli(['pull', ref], out)
  expect(pulled.code).toBe(0)
  expect(pulled.stdout.split('\n').slice(0, 3)).toEqual([
    'Downloaded empty artifact',
    `Pulled [registry] ${ref}`,
    `Digest: ${BUILDX_DIGEST}`
  ])
  expect(await readdir(out)).toEqual([])

  // oras pull --oci-layout hello-world.tar:v1
  const local = await cli(['pull', '--oci-layout', `${BUILDX}:v1`], out)
  expect(local.code).toBe(0)
  expect(local.stdout).toContain('Downloaded empty artifact\n')
  expect(local.stdout).toContain(`Pulled [oci-layout] ${BUILDX}:v1\n`)
  expect(lastLine(local)).toBe(`Digest: ${BUILDX_DIGEST}`)
  expect(await readdir(out)).toEqual([])
})

it('files pushed by the CLI come back byte for byte, from the registry and through a layout', async () => {
  const src = await tmpDir('seed-files-')
  await writeFile(path.join(src, 'app.bin'), Buffer.from([0, 1, 2, 255, 254, 10]))
  await mkdir(path.join(src, 'site', 'css'), { recursive: true })
  await writeFile(path.join(src, 'site', 'index.html'), '<h1>hi</h1>\n')
  await writeFile(path.join(src, 'site', 'css', 'a.css'), 'h1{}\n')
  const ref = `${reg.host}/files/roundtrip:v1`
  const pushed = await cli(['push', ref, 'app.bin', 'site'], src)
  expect(pushed.code).toBe(0)
  const digest = lastLine(pushed).replace('Digest: ', '')
  expect(await remoteDigest(ref)).toBe(digest)

  const out = await tmpDir('seed-back-')
  const pulled = await cli(['pull', ref, '-o', out])
  expect(pulled.code).toBe(0)
  expect(lastLine(pulled)).toBe(`Digest: ${digest}`)
  expect(await files(out)).toEqual(await files(src))

  // The same artifact copied into a layout, and its files pulled from there.
  const layout = path.join(await tmpDir('seed-layout-'), 'art.tar')
  const copied = await cli(['cp', ref, '--to-oci-layout', `${layout}:v1`])
  expect(lastLine(copied)).toBe(`Digest: ${digest}`)
  const out2 = await tmpDir('seed-back2-')
  const local = await cli(['pull', '--oci-layout', `${layout}:v1`, '-o', out2])
  expect(lastLine(local)).toBe(`Digest: ${digest}`)
  expect(await files(out2)).toEqual(await files(src))
})
