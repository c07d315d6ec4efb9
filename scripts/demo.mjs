// End to end on this machine: a local CNCF distribution registry, a sample buildx-style layout
// (two platforms, attestations) pushed by the bundled action exactly as the runner runs it,
// pulled back into a tar by the same action, and the digests printed and compared.
import { spawn, execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateLayout } from './gen-layout.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const work = await mkdtemp(path.join(os.tmpdir(), 'oci-layout-demo-'))

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })

async function startRegistry() {
  const port = await freePort()
  const config = path.join(work, 'registry.yml')
  await writeFile(
    config,
    JSON.stringify({
      version: 0.1,
      log: { level: 'error', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: path.join(work, 'storage') } },
      http: { addr: `127.0.0.1:${port}` }
    })
  )
  const proc = spawn('docker-registry', ['serve', config], { stdio: 'ignore' })
  const host = `127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`http://${host}/v2/`)
      if (res.status === 200) return { host, stop: () => proc.kill() }
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  proc.kill()
  throw new Error(
    'the registry did not start; is docker-registry installed? (bash scripts/setup.sh)'
  )
}

/** Runs dist/index.js with INPUT_* variables and a GITHUB_OUTPUT file, as the runner does. */
async function runAction(inputs) {
  const out = path.join(work, `output-${Date.now()}`)
  await writeFile(out, '')
  const env = { ...process.env, GITHUB_OUTPUT: out, RUNNER_TEMP: work }
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v
  await new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [path.join(root, 'dist/index.js')], { env }, (err) =>
      err ? reject(new Error('the action failed')) : resolve()
    )
    child.stdout.pipe(process.stdout)
    child.stderr.pipe(process.stderr)
  })
  const outputs = {}
  const lines = (await readFile(out, 'utf8')).split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i])
    if (m) outputs[m[1]] = lines[++i]
  }
  return outputs
}

const registry = await startRegistry()
try {
  const sample = await generateLayout({
    out: path.join(work, 'app.tar'),
    format: 'tar',
    platforms: ['linux/amd64', 'linux/arm64'],
    layers: [4 << 20, 1 << 20],
    sharedBase: true,
    attestations: true,
    tags: ['v1']
  })
  console.log(`\nsample layout ${sample.path}: ${sample.digest}\n`)
  const pushed = await runAction({
    layout: `${sample.path}:v1`,
    registry: registry.host,
    reference: 'demo/app:v1'
  })
  const pulled = await runAction({
    direction: 'pull',
    layout: path.join(work, 'pulled.tar'),
    registry: registry.host,
    reference: 'demo/app:v1'
  })
  console.log(`\nlayout digest: ${sample.digest}`)
  console.log(`pushed digest: ${pushed.digest}  (${pushed.reference})`)
  console.log(`pulled digest: ${pulled.digest}  (${pulled.layout})`)
  if (pushed.digest !== sample.digest || pulled.digest !== sample.digest)
    throw new Error('digests differ')
  console.log(`\n${pushed.digest}`)
} finally {
  registry.stop()
  await rm(work, { recursive: true, force: true })
}
