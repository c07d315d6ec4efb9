// @ts-check
// The CNCF distribution registry each run gets: started on a free loopback port over its own
// storage, seeded with an image where the case needs one, killed with this script.

import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { REPO, sleep } from './common.mjs'
import { ACCEPT } from './layouts.mjs'
import { procStat } from './machine.mjs'
import { runSkopeo } from './skopeo.mjs'

/** @import { LayoutInfo } from './layouts.mjs' */

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p))

/**
 * @typedef {object} Registry
 * @property {string} host 127.0.0.1:port
 * @property {number | undefined} pid
 * @property {() => ReturnType<typeof procStat>} stat its CPU and I/O so far
 * @property {() => Promise<void>} stop
 */

/** @type {Set<Registry>} */
const liveRegistries = new Set()

/** Kills every registry (and proxy) still running: on exit and on Ctrl-C, where nothing can be awaited. */
export function killRegistries() {
  for (const r of liveRegistries) if (r.pid !== undefined) process.kill(r.pid, 'SIGKILL')
}

/**
 * Another server process (the delay proxy) for `killRegistries` to kill; its `stop` must call
 * `untrack`.
 * @param {Registry} r
 */
export const track = (r) => void liveRegistries.add(r)
/** @param {Registry} r */
export const untrack = (r) => void liveRegistries.delete(r)

/**
 * `argv` with a parent-death signal where setpriv exists (it execs, same pid): the process dies
 * with this script.
 * @param {string[]} argv
 */
export const diesWithUs = (argv) => (SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', ...argv] : argv)

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (s.address())
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

/**
 * One CNCF distribution registry on a free loopback port, storing under `storage`.
 * @param {string} storage
 * @param {string} work where its config file goes
 * @returns {Promise<Registry>}
 */
export async function startRegistry(storage, work) {
  await fsp.mkdir(storage, { recursive: true })
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const config = path.join(work, `registry-${port}.yml`)
    // JSON is YAML.
    await fsp.writeFile(
      config,
      JSON.stringify({
        version: 0.1,
        log: { level: 'error', accesslog: { disabled: true } },
        storage: {
          filesystem: { rootdirectory: storage },
          delete: { enabled: true },
          maintenance: { uploadpurging: { enabled: false } }
        },
        http: { addr: `127.0.0.1:${port}` }
      })
    )
    const [cmd, ...args] = diesWithUs(['docker-registry', 'serve', config])
    const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr.on('data', (b) => (stderr = (stderr + b).slice(-4096)))
    let exited = false
    /** @type {Promise<void>} */
    const exitP = new Promise((r) => proc.on('exit', () => ((exited = true), r())))
    proc.on('error', () => {})
    const host = `127.0.0.1:${port}`
    /** @type {Registry} */
    const reg = {
      host,
      pid: proc.pid,
      stat: () => procStat(proc.pid),
      async stop() {
        liveRegistries.delete(reg)
        if (!exited) proc.kill('SIGKILL')
        await exitP
        await fsp.rm(config, { force: true })
      }
    }
    liveRegistries.add(reg)
    for (let i = 0; i < 150 && !exited; i++) {
      try {
        const res = await fetch(`http://${host}/v2/`)
        if (res.status === 200) return reg
      } catch {
        /* not up yet */
      }
      await sleep(50)
    }
    await reg.stop()
    if (!/address already in use/.test(stderr))
      throw new Error(`docker-registry did not start: ${stderr.trim() || 'no output'}`)
  }
  throw new Error('docker-registry did not start: no free port')
}

/**
 * The digest `repo:ref` has on the registry, or null.
 * @param {string} host
 * @param {string} repo
 * @param {string} ref
 */
export async function remoteDigest(host, repo, ref) {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, {
    method: 'HEAD',
    headers: { Accept: ACCEPT }
  })
  return res.status === 200 ? res.headers.get('docker-content-digest') : null
}

/**
 * A fresh registry store from a seed: blob files hard-linked, repository metadata copied, the
 * seed's repository (REPO) renamed to `repo`.
 * @param {string} seed
 * @param {string} dest
 * @param {string} repo
 */
export async function cloneStorage(seed, dest, repo) {
  const v2 = path.join('docker', 'registry', 'v2')
  await fsp.mkdir(path.join(dest, v2), { recursive: true })
  const cp = (/** @type {string[]} */ args) => {
    const r = spawnSync('cp', args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`cp ${args.join(' ')}: ${r.stderr}`)
  }
  cp(['-al', path.join(seed, v2, 'blobs'), path.join(dest, v2, 'blobs')])
  const repos = path.join(dest, v2, 'repositories')
  await fsp.mkdir(path.dirname(path.join(repos, repo)), { recursive: true })
  cp(['-a', path.join(seed, v2, 'repositories', REPO), path.join(repos, repo)])
}

/**
 * Registry store holding every tag of a layout in REPO, pushed by skopeo (untimed, one copy per
 * tag), reused read-only.
 * @param {{ work: string, seeds: Map<string, string> }} ctx
 * @param {string} name the layout family
 * @param {LayoutInfo} info the layout (a tar, or a directory)
 */
export async function seedStorage(ctx, name, info) {
  const known = ctx.seeds.get(name)
  if (known) return known
  const storage = path.join(ctx.work, `seed-${name}`)
  const reg = await startRegistry(storage, ctx.work)
  const transport = info.format === 'dir' ? 'oci' : 'oci-archive'
  try {
    for (const { tag, digest } of info.refs) {
      const r = await runSkopeo(
        [
          '--dest-tls-verify=false',
          `${transport}:${info.path}:${tag}`,
          `docker://${reg.host}/${REPO}:${tag}`
        ],
        ctx.work
      )
      if (r.error) throw new Error(`seeding ${name}: skopeo failed: ${r.error}`)
      const got = await remoteDigest(reg.host, REPO, tag)
      if (got !== digest)
        throw new Error(`seeding ${name}: registry has ${REPO}:${tag} = ${got}, want ${digest}`)
    }
  } finally {
    await reg.stop()
  }
  console.log(`  seed store for ${name}: pushed by skopeo (untimed); each run starts from a copy`)
  ctx.seeds.set(name, storage)
  return storage
}
