// The package people install (`npx oci-layout-action`, `npm i -g`): what npm pack puts in it runs
// as a CLI with nothing installed beside it, against a real registry.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { runCli } from '../helpers/action.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'

const execFileP = promisify(execFile)

let reg: TestRegistry
beforeAll(async () => {
  reg = await startRegistry()
})
afterAll(async () => {
  await reg.stop()
})

it('npm pack gives a publishable package whose CLI runs with nothing beside it', async () => {
  const dir = await tmpDir('pack-')
  const { stdout } = await execFileP('npm', ['pack', '--json', '--pack-destination', dir], {
    env: { ...process.env, NODE_OPTIONS: '' }
  })
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[]
  expect(packed.files.map((f) => f.path)).toEqual(
    expect.arrayContaining(['dist/cli.js', 'dist/slab-worker.js', 'action.yml', 'package.json'])
  )
  await execFileP('tar', ['-xzf', path.join(dir, packed.filename), '-C', dir])
  const pkg = JSON.parse(await readFile(path.join(dir, 'package', 'package.json'), 'utf8')) as {
    private?: boolean
    bin: Record<string, string>
    engines: Record<string, string>
  }
  expect(pkg.private).toBeUndefined()
  expect(pkg.engines.node).toBe('>=20')
  const script = path.join(dir, 'package', pkg.bin['oci-layout'])
  expect((await readFile(script, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true)

  const ref = `${reg.host}/packed/app:v1`
  const run = await runCli(['cp', '--from-oci-layout', `${BUILDX}:v1`, ref], { script, cwd: dir })
  expect(run.code).toBe(0)
  expect(run.stdout.trim().split('\n').at(-1)).toBe(`Digest: ${BUILDX_DIGEST}`)
  expect(await remoteDigest(ref)).toBe(BUILDX_DIGEST)
})
