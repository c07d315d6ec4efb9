#!/usr/bin/env node
// Benchmark of the bundled action (dist/index.js) against skopeo and against the wire limit
// (curl, every blob at once), on a local CNCF distribution registry. Run by hand, not in CI:
//
//   npm run bench                                  # default set, 3 rounds
//   node scripts/bench.mjs --rounds 5 --cases push,repush --json /tmp/bench.json
//   node scripts/bench.mjs --no-big                # skip the 4 GiB RSS-flatness layout
//
// Options:
//   --rounds N        rounds per case (default 3, at least 1); tools run interleaved in each round
//   --cases LIST      any of push,pull,repush,mount,rss,big-layer (default: all)
//   --json FILE       where the figures go (default .bench/results.json)
//   --big / --no-big  the 4 GiB layout of the rss case (default: on when >= 20 GiB is free;
//                     env BENCH_BIG=1 / BENCH_BIG=0 does the same)
//   --concurrency N   INPUT_CONCURRENCY for our action (default: action.yml's default)
//   --report FILE     print the table and targets of an earlier run's JSON (and rewrite FILE.md)
//   --quiet-wait S    before each run, wait up to S s (default 10; 180 s in all) for the machine
//                     to go idle: on 2 cores a test suite running alongside skews everything
//
// Layouts are generated once by scripts/gen-layout.mjs and cached under .bench/ (git-ignored):
//   1g.tar, 1g-dir   one platform, 8 gzip layers of 128 MiB random content (same bytes twice)
//   2p.tar, 2p-dir   two platforms sharing a 256 MiB base layer + 3 x 128 MiB each (~1 GiB)
//   4g.tar           8 x 512 MiB, only for the rss case
//   big1.tar, big1-dir  one 640 MiB layer: the upload strategy (one PUT against 256 MiB PATCHes)
// Every run gets its own registry process on a free loopback port and fresh storage (deleted
// afterwards). Where the registry must already hold the image (pull, re-push, mount), it is
// pushed once per layout into a seed store (untimed) and each run starts from a copy of it:
// blob files hard-linked (distribution never rewrites a blob file), repository metadata copied.
//
// Tools per case: ours (`node dist/index.js` with INPUT_* and GITHUB_OUTPUT, as the runner runs
// it), skopeo copy --all --preserve-digests, and the wire: curl, every blob at once (push: POST
// then one monolithic PUT with -T; the brief's `--data-binary @FILE` is kept as the extra
// `wire --data-binary` row of push 1g.tar: it loads each blob into curl's memory and is slower).
// Measured per run: wall time; peak RSS and user+sys CPU of the tool (GNU time); the registry's
// CPU time and bytes read/written (/proc/<pid>/stat, /proc/<pid>/io); the CPU everything else
// used meanwhile (/proc/stat), to show a run disturbed by other work. Writes the figures as JSON
// and a markdown table beside it (FILE.md). Plain ESM with node built-ins only: bare `node`.
// See docs/benchmark.md.

import { spawn, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { clearInterval, setInterval } from 'node:timers'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generateLayout } from './gen-layout.mjs'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const BENCH_DIR = path.join(ROOT, '.bench')
const ACTION = path.join(ROOT, 'dist', 'index.js')
const MiB = 1 << 20
const GiB = 1 << 30
const TAG = 'v1'
const REPO = 'bench/app'
const REPO_B = 'bench/other'
const TIME_BIN = '/usr/bin/time'
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p))
const CMD_TIMEOUT_MS = 15 * 60 * 1000
const BIG_FREE_BYTES = 20 * GiB
const MIN_FREE_BYTES = 12 * GiB // layouts (4 GiB), seeds (2 GiB), one run's storage + output (3 GiB), skopeo's scratch
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100
const ALL_CASES = ['push', 'pull', 'repush', 'mount', 'rss', 'big-layer']
const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json'
])
const ACCEPT = [...MANIFEST_TYPES].join(', ')

const LAYOUTS = {
  '1g': { platforms: ['linux/amd64'], layers: Array(8).fill(128 * MiB), seed: 1 },
  '2p': {
    platforms: ['linux/amd64', 'linux/arm64'],
    layers: [256 * MiB, 128 * MiB, 128 * MiB, 128 * MiB],
    sharedBase: true,
    seed: 2
  },
  '4g': { platforms: ['linux/amd64'], layers: Array(8).fill(512 * MiB), seed: 4 },
  // One layer above the 256 MiB chunk size the action used to default to.
  big1: { platforms: ['linux/amd64'], layers: [640 * MiB, 4096], seed: 5 }
}

const TARGETS = {
  pushVsSkopeo: 0.6,
  pushVsWire: 1.25,
  pullDirVsSkopeo: 0.8,
  pullTarVsSkopeo: 0.6,
  rssMiB: 150,
  repushBeyondNodeS: 0.3,
  mountS: 0.5
}

// ---------------------------------------------------------------------------------------------
// options

const USAGE = `usage: node scripts/bench.mjs [--rounds N] [--cases ${ALL_CASES.join(',')}] [--json FILE]
       [--big | --no-big] [--concurrency N] [--quiet-wait S]
       node scripts/bench.mjs --report .bench/results.json`

function readOptions() {
  const { values } = parseArgs({
    strict: true,
    options: {
      rounds: { type: 'string' },
      cases: { type: 'string' },
      json: { type: 'string' },
      big: { type: 'boolean' },
      'no-big': { type: 'boolean' },
      concurrency: { type: 'string' },
      'quiet-wait': { type: 'string' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const rounds = values.rounds === undefined ? 3 : Number(values.rounds)
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: want a whole number >= 1`)
  const cases = values.cases
    ? values.cases
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : ALL_CASES
  for (const c of cases)
    if (!ALL_CASES.includes(c)) throw new Error(`--cases: unknown case "${c}" (${ALL_CASES})`)
  let big
  if (values.big) big = true
  else if (values['no-big']) big = false
  else if (process.env.BENCH_BIG === '1' || process.env.BENCH_BIG === 'true') big = true
  else if (process.env.BENCH_BIG === '0' || process.env.BENCH_BIG === 'false') big = false
  if (values.concurrency !== undefined && !/^\d+$/.test(values.concurrency))
    throw new Error('--concurrency: want a whole number')
  const quietWait = values['quiet-wait'] === undefined ? 10 : Number(values['quiet-wait'])
  if (!(quietWait >= 0)) throw new Error('--quiet-wait: want seconds >= 0')
  return {
    rounds,
    quietWait,
    cases: new Set(cases),
    json: path.resolve(values.json ?? path.join(BENCH_DIR, 'results.json')),
    big,
    concurrency: values.concurrency,
    report: values.report
  }
}

// ---------------------------------------------------------------------------------------------
// small helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (!v.length) return null
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}
const minOf = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x))
  return v.length ? Math.min(...v) : null
}
const maxOf = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x))
  return v.length ? Math.max(...v) : null
}
const fmt = (x, d = 2) => (x === null || x === undefined ? '-' : x.toFixed(d))
const gib = (n) => `${(n / GiB).toFixed(1)} GiB`

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

function freeBytes(dir) {
  const st = fs.statfsSync(dir)
  return st.bavail * st.bsize
}

async function dirBytes(p) {
  let st
  try {
    st = await fsp.lstat(p)
  } catch {
    return 0
  }
  if (!st.isDirectory()) return st.size
  let total = 0
  for (const e of await fsp.readdir(p)) total += await dirBytes(path.join(p, e))
  return total
}

function fileSha256(file) {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
  } catch {
    return null
  }
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

function toolVersion(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return (r.stdout || r.stderr || '').split('\n')[0].trim()
}

/** GNU time gives peak RSS and CPU per command; install it (Debian package `time`) if missing. */
function ensureTime() {
  if (fs.existsSync(TIME_BIN)) return true
  if (process.getuid?.() === 0 && which('apt-get')) {
    console.log('installing GNU time (apt-get install -y time) for peak-RSS measurement')
    const r = spawnSync('apt-get', ['install', '-y', 'time'], { stdio: 'inherit' })
    if (r.status === 0 && fs.existsSync(TIME_BIN)) return true
  }
  console.log('GNU time unavailable: peak RSS by polling /proc/<pid>/status VmHWM, no tool CPU')
  return false
}

// ---------------------------------------------------------------------------------------------
// processes

let HAVE_TIME = false
let scratchDir = os.tmpdir() // GNU time's output files; the run's work dir once it exists

/**
 * Runs one command to completion. With GNU time: peak RSS (KiB) and user+sys CPU of the command
 * (and of children it waited for). Without: VmHWM polled from /proc every 10 ms.
 */
function runProc(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const timeFile = HAVE_TIME
      ? path.join(scratchDir, `bench-time-${process.pid}-${crypto.randomBytes(4).toString('hex')}`)
      : null
    const argv = HAVE_TIME ? ['-f', '%M %U %S', '-o', timeFile, cmd, ...args] : args
    const started = performance.now()
    const child = spawn(HAVE_TIME ? TIME_BIN : cmd, argv, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const out = []
    const err = []
    let outLen = 0
    child.stdout.on('data', (b) => {
      if (outLen < 4 * MiB) out.push(b)
      outLen += b.length
    })
    child.stderr.on('data', (b) => err.push(b))
    let hwm = 0
    const poll = HAVE_TIME
      ? null
      : setInterval(() => {
          try {
            const s = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8')
            const m = /VmHWM:\s+(\d+)/.exec(s)
            if (m) hwm = Math.max(hwm, Number(m[1]))
          } catch {
            /* gone */
          }
        }, 10)
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? CMD_TIMEOUT_MS)
    child.on('error', (e) => err.push(Buffer.from(String(e))))
    child.on('close', (code, signal) => {
      const wall = (performance.now() - started) / 1000
      clearTimeout(timer)
      if (poll) clearInterval(poll)
      let rssKiB = hwm || null
      let cpu = null
      if (timeFile) {
        try {
          const lines = fs.readFileSync(timeFile, 'utf8').trim().split('\n')
          const [m, u, s] = lines[lines.length - 1].trim().split(/\s+/).map(Number)
          rssKiB = m
          cpu = u + s
        } catch {
          /* killed before time wrote */
        }
        fs.rmSync(timeFile, { force: true })
      }
      resolve({
        code: code ?? (signal ? 128 : 1),
        wall,
        rssKiB,
        cpu,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8')
      })
    })
  })
}

function lastLines(text, n = 6) {
  return text.trim().split('\n').slice(-n).join('\n')
}

// ---------------------------------------------------------------------------------------------
// registry

const liveRegistries = new Set()

function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    // fields after "pid (comm) ": state=0 ... utime=11 stime=12 (14 and 15 in proc(5))
    const cpu = (Number(f[11]) + Number(f[12])) / CLK_TCK
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8')
    const num = (k) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1] ?? NaN)
    return { cpu, rchar: num('rchar'), wchar: num('wchar') }
  } catch {
    return { cpu: NaN, rchar: NaN, wchar: NaN }
  }
}

/** CPU seconds the whole machine has been busy (all cores), from /proc/stat. */
function systemBusy() {
  try {
    const f = fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number)
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] || 0)) / CLK_TCK
  } catch {
    return NaN
  }
}

let quietBudgetS = 180

/**
 * Waits (up to `maxS`, and 180 s over the whole bench) until the machine is idle: other work on
 * 2 cores (tests, builds) shows directly in the figures. Returns the busy cores seen last.
 */
async function waitQuiet(maxS) {
  const started = performance.now()
  let busy
  for (;;) {
    const b0 = systemBusy()
    await sleep(500)
    busy = (systemBusy() - b0) / 0.5
    const waited = (performance.now() - started) / 1000
    if (!(busy > 0.25) || waited >= maxS || quietBudgetS <= 0) {
      if (waited >= 1) {
        quietBudgetS -= waited
        console.log(
          `    (waited ${waited.toFixed(0)} s for the machine to go quiet; ${busy.toFixed(2)} cores busy)`
        )
      }
      return busy
    }
  }
}

/** One CNCF distribution registry on a free loopback port, storing under `storage`. */
async function startRegistry(storage, work) {
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
    const argv = ['docker-registry', 'serve', config]
    // setpriv execs the registry (same pid) with a parent-death signal: it dies with us.
    const proc = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr.on('data', (b) => (stderr = (stderr + b).slice(-4096)))
    let exited = false
    const exitP = new Promise((r) => proc.on('exit', () => ((exited = true), r())))
    proc.on('error', () => {})
    const host = `127.0.0.1:${port}`
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

async function remoteDigest(host, repo, ref) {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, {
    method: 'HEAD',
    headers: { Accept: ACCEPT }
  })
  return res.status === 200 ? res.headers.get('docker-content-digest') : null
}

// ---------------------------------------------------------------------------------------------
// layouts

/** index.json -> manifests -> blobs of a layout directory: what the wire cases send. */
async function readLayoutDir(dir) {
  const index = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8'))
  const file = (d) => path.join(dir, 'blobs', ...d.split(':'))
  const manifests = new Map()
  const blobs = new Map()
  const visit = async (desc, depth) => {
    if (MANIFEST_TYPES.has(desc.mediaType)) {
      const prev = manifests.get(desc.digest)
      if (prev) {
        prev.depth = Math.min(prev.depth, depth)
        return
      }
      const m = { ...desc, file: file(desc.digest), depth }
      manifests.set(desc.digest, m)
      const json = JSON.parse(await fsp.readFile(m.file, 'utf8'))
      for (const child of json.manifests ?? []) await visit(child, depth + 1)
      if (json.config) await visit(json.config, depth + 1)
      for (const l of json.layers ?? []) await visit(l, depth + 1)
    } else if (!blobs.has(desc.digest)) {
      blobs.set(desc.digest, { ...desc, file: file(desc.digest) })
    }
  }
  const root = index.manifests[0]
  await visit(root, 0)
  return {
    root: { mediaType: root.mediaType, digest: root.digest, size: root.size },
    manifests: [...manifests.values()].sort((a, b) => b.depth - a.depth), // children first
    blobs: [...blobs.values()],
    blobBytes: [...blobs.values()].reduce((s, b) => s + b.size, 0)
  }
}

async function ensureLayouts(names) {
  await fsp.mkdir(BENCH_DIR, { recursive: true })
  const out = {}
  for (const name of names) {
    const [family, kind] = name.split(/[.-]/)
    const spec = LAYOUTS[family]
    const p = path.join(BENCH_DIR, name)
    const t0 = performance.now()
    const r = await generateLayout({
      out: p,
      format: kind === 'dir' ? 'dir' : 'tar',
      platforms: spec.platforms,
      layers: spec.layers,
      sharedBase: spec.sharedBase,
      tags: [TAG],
      seed: spec.seed,
      cache: true
    })
    const s = (performance.now() - t0) / 1000
    console.log(
      `layout ${name}: ${gib(r.blobBytes)} of blobs, ${r.digest}${s > 1 ? ` (generated in ${s.toFixed(0)} s)` : ' (cached)'}`
    )
    out[name] = r
  }
  return out
}

/** Reads index.json of a layout directory or (uncompressed) tar and returns its first digest. */
async function layoutDigest(p) {
  const st = await fsp.stat(p)
  let text
  if (st.isDirectory()) text = await fsp.readFile(path.join(p, 'index.json'), 'utf8')
  else {
    const fh = await fsp.open(p, 'r')
    try {
      const hdr = Buffer.alloc(512)
      let pos = 0
      let longName = null
      for (;;) {
        const { bytesRead } = await fh.read(hdr, 0, 512, pos)
        if (bytesRead < 512 || hdr.every((b) => b === 0)) break
        const size = parseTarSize(hdr)
        const type = String.fromCharCode(hdr[156])
        let name = hdr.toString('utf8', 0, 100).replace(/\0.*$/s, '')
        const prefix = hdr.toString('utf8', 345, 500).replace(/\0.*$/s, '')
        if (prefix) name = `${prefix}/${name}`
        if (type === 'x' || type === 'L') {
          const body = Buffer.alloc(size)
          await fh.read(body, 0, size, pos + 512)
          const s = body.toString('utf8')
          longName =
            type === 'L' ? s.replace(/\0.*$/s, '') : (/ path=([^\n]*)\n/.exec(s)?.[1] ?? null)
        } else {
          if (longName) name = longName
          longName = null
          if (name.replace(/^\.?\//, '') === 'index.json') {
            const body = Buffer.alloc(size)
            await fh.read(body, 0, size, pos + 512)
            text = body.toString('utf8')
            break
          }
        }
        pos += 512 + Math.ceil(size / 512) * 512
      }
    } finally {
      await fh.close()
    }
  }
  if (!text) return null
  return JSON.parse(text).manifests?.[0]?.digest ?? null
}

function parseTarSize(hdr) {
  if (hdr[124] & 0x80) return Number(hdr.readBigUInt64BE(128))
  return parseInt(hdr.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8)
}

/**
 * A fresh registry store from a seed: blob files hard-linked, repository metadata copied, the
 * seed's repository (REPO) renamed to `repo`.
 */
async function cloneStorage(seed, dest, repo) {
  const v2 = path.join('docker', 'registry', 'v2')
  await fsp.mkdir(path.join(dest, v2), { recursive: true })
  const cp = (args) => {
    const r = spawnSync('cp', args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`cp ${args.join(' ')}: ${r.stderr}`)
  }
  cp(['-al', path.join(seed, v2, 'blobs'), path.join(dest, v2, 'blobs')])
  const repos = path.join(dest, v2, 'repositories')
  await fsp.mkdir(path.dirname(path.join(repos, repo)), { recursive: true })
  cp(['-a', path.join(seed, v2, 'repositories', REPO), path.join(repos, repo)])
}

// ---------------------------------------------------------------------------------------------
// the tools

let actionDefaults = {}

/** Reads action.yml's input defaults: the runner sets INPUT_<NAME> for each of them. */
function readActionDefaults() {
  const out = {}
  try {
    const text = fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')
    const inputs = /^inputs:\n([\s\S]*?)(?=^\S)/m.exec(text)?.[1] ?? ''
    let current = null
    for (const line of inputs.split('\n')) {
      const name = /^ {2}([A-Za-z0-9_-]+):\s*$/.exec(line)
      if (name) current = name[1]
      const def = /^ {4}default:\s*(.*)$/.exec(line)
      if (def && current) out[current] = def[1].trim().replace(/^(['"])(.*)\1$/, '$2')
    }
  } catch {
    /* no action.yml: readSettings treats empty inputs as defaults */
  }
  return out
}

/** `node dist/index.js` with INPUT_* variables and a GITHUB_OUTPUT file, as the runner does. */
async function runOurs(inputs, work, opts) {
  const outFile = path.join(work, `github-output-${crypto.randomBytes(4).toString('hex')}`)
  await fsp.writeFile(outFile, '')
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('INPUT_') && k !== 'NODE_OPTIONS')
  )
  const all = { ...actionDefaults, ...inputs }
  if (opts.concurrency) all.concurrency = opts.concurrency
  for (const [k, v] of Object.entries(all)) env[`INPUT_${k.toUpperCase()}`] = v
  env.GITHUB_OUTPUT = outFile
  env.RUNNER_TEMP = work
  const r = await runProc(process.execPath, [ACTION], { env, cwd: ROOT })
  const outputs = {}
  const lines = (await fsp.readFile(outFile, 'utf8')).split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (m) outputs[m[1]] = lines[++i]
  }
  await fsp.rm(outFile, { force: true })
  // One log line per blob / manifest: "... uploaded | already present | mounted | downloaded".
  const outcomes = {}
  let layerBytesUploaded = 0
  for (const line of r.stdout.split('\n')) {
    const m =
      /^(blob|manifest)\s+\S+\s+([\d.]+) (B|KiB|MiB|GiB)\s+(uploaded|already present|mounted|downloaded|\S+)\s*$/.exec(
        line.trim()
      )
    if (!m) continue
    const key = `${m[1]} ${m[4]}`
    outcomes[key] = (outcomes[key] ?? 0) + 1
    if (m[1] === 'blob' && m[4] === 'uploaded')
      layerBytesUploaded += Number(m[2]) * { B: 1, KiB: 1024, MiB: MiB, GiB: GiB }[m[3]]
  }
  const summary = /(Pushed|Pulled) .*: (.*)$/m.exec(r.stdout)?.[2] ?? null
  return {
    ...r,
    digest: outputs.digest ?? null,
    outcomes,
    layerBytesUploaded,
    summary,
    error: r.code === 0 ? null : lastLines(r.stdout + '\n' + r.stderr)
  }
}

async function runSkopeo(args, work) {
  const env = { ...process.env, TMPDIR: work } // its oci-archive scratch goes to our disk, and away
  const r = await runProc(
    'skopeo',
    ['copy', '--all', '--preserve-digests', '--insecure-policy', ...args],
    { env }
  )
  return { ...r, error: r.code === 0 ? null : lastLines(r.stderr) }
}

/**
 * Runs a batch of curl processes at once (each under GNU time). Peak RSS is the sum over the
 * batch (they all run together): an upper bound of the batch's combined peak.
 */
async function curlBatch(argsList) {
  const rs = await Promise.all(argsList.map((a) => runProc('curl', ['-s', '-S', ...a])))
  return {
    results: rs,
    rssKiB: rs.reduce((s, r) => s + (r.rssKiB ?? 0), 0) || null,
    cpu: rs.reduce((s, r) => s + (r.cpu ?? 0), 0)
  }
}

function checkCodes(batch, want, what) {
  for (const r of batch.results) {
    const code = r.stdout.trim().split('\n').pop()
    if (r.code !== 0 || !want.includes(code))
      throw new Error(`${what}: curl exit ${r.code}, HTTP ${code} ${r.stderr.trim()}`)
  }
}

/**
 * Every blob at once: POST an upload, then one monolithic PUT (curl -T, streaming the file); then
 * the manifests, children first, the root by tag last.
 */
async function wirePush(host, repo, layout, dataBinary = false) {
  const started = performance.now()
  const base = `http://${host}/v2/${repo}`
  const posts = await curlBatch(
    layout.blobs.map(() => ['-X', 'POST', '-o', '/dev/null', '-D', '-', `${base}/blobs/uploads/`])
  )
  const locations = posts.results.map((r) => {
    const loc = /^location:\s*(\S+)/im.exec(r.stdout)?.[1]
    if (!loc) throw new Error(`wire POST: no Location (${r.stderr.trim() || r.stdout.trim()})`)
    return new URL(loc, `http://${host}`).href
  })
  // -T streams the file; --data-binary @FILE (the variant `wire --data-binary`) first reads the
  // whole blob into curl's memory, and measured ~1.7x slower here: not the wire's limit.
  const body = (b) => (dataBinary ? ['--data-binary', `@${b.file}`] : ['-T', b.file])
  const puts = await curlBatch(
    layout.blobs.map((b, i) => [
      '-X',
      'PUT',
      ...body(b),
      '-H',
      'Content-Type: application/octet-stream',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}\n',
      `${locations[i]}${locations[i].includes('?') ? '&' : '?'}digest=${b.digest}`
    ])
  )
  checkCodes(puts, ['201'], 'wire PUT blob')
  const man = await putManifests(base, layout)
  return {
    wall: (performance.now() - started) / 1000,
    rssKiB: puts.rssKiB,
    cpu: posts.cpu + puts.cpu + man.cpu
  }
}

/** Manifests children first (each level at once), the root by tag. */
async function putManifests(base, layout) {
  let cpu = 0
  const levels = new Map()
  for (const m of layout.manifests) {
    if (m.depth === 0) continue
    if (!levels.has(m.depth)) levels.set(m.depth, [])
    levels.get(m.depth).push(m)
  }
  const put = (m, ref) => [
    '-X',
    'PUT',
    '--data-binary',
    `@${m.file}`,
    '-H',
    `Content-Type: ${m.mediaType}`,
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}\n',
    `${base}/manifests/${ref}`
  ]
  for (const depth of [...levels.keys()].sort((a, b) => b - a)) {
    const b = await curlBatch(levels.get(depth).map((m) => put(m, m.digest)))
    checkCodes(b, ['201'], 'wire PUT manifest')
    cpu += b.cpu
  }
  const root = layout.manifests.find((m) => m.depth === 0)
  const b = await curlBatch([put(root, TAG)])
  checkCodes(b, ['201'], 'wire PUT tag')
  return { cpu: cpu + b.cpu }
}

/** Every blob and manifest fetched at once into a fresh directory. */
async function wirePull(host, repo, layout, outDir) {
  const started = performance.now()
  const dir = path.join(outDir, 'blobs', 'sha256')
  await fsp.mkdir(dir, { recursive: true })
  const base = `http://${host}/v2/${repo}`
  const get = (d, kind) => [
    '-f',
    ...(kind === 'manifests' ? ['-H', `Accept: ${ACCEPT}`] : []),
    '-o',
    path.join(dir, d.digest.split(':')[1]),
    '-w',
    '%{http_code}\n',
    `${base}/${kind}/${d.digest}`
  ]
  const b = await curlBatch([
    ...layout.manifests.map((m) => get(m, 'manifests')),
    ...layout.blobs.map((x) => get(x, 'blobs'))
  ])
  checkCodes(b, ['200'], 'wire GET')
  return { wall: (performance.now() - started) / 1000, rssKiB: b.rssKiB, cpu: b.cpu }
}

/** A re-push at the wire: HEAD everything at once, then PUT the tag. */
async function wireRepush(host, repo, layout) {
  const started = performance.now()
  const base = `http://${host}/v2/${repo}`
  const heads = await curlBatch([
    ...layout.manifests.map((m) => [
      '-I',
      '-H',
      `Accept: ${ACCEPT}`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}\n',
      `${base}/manifests/${m.digest}`
    ]),
    ...layout.blobs.map((b) => [
      '-I',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}\n',
      `${base}/blobs/${b.digest}`
    ])
  ])
  checkCodes(heads, ['200'], 'wire HEAD')
  const root = layout.manifests.find((m) => m.depth === 0)
  const tag = await curlBatch([
    [
      '-X',
      'PUT',
      '--data-binary',
      `@${root.file}`,
      '-H',
      `Content-Type: ${root.mediaType}`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}\n',
      `${base}/manifests/${TAG}`
    ]
  ])
  checkCodes(tag, ['201'], 'wire PUT tag')
  return {
    wall: (performance.now() - started) / 1000,
    rssKiB: heads.rssKiB,
    cpu: heads.cpu + tag.cpu
  }
}

/** Cross-repository mount at the wire: one POST ?mount=&from= per blob, at once; then manifests. */
async function wireMount(host, from, repo, layout) {
  const started = performance.now()
  const base = `http://${host}/v2/${repo}`
  const mounts = await curlBatch(
    layout.blobs.map((b) => [
      '-X',
      'POST',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}\n',
      `${base}/blobs/uploads/?mount=${b.digest}&from=${from}`
    ])
  )
  checkCodes(mounts, ['201'], 'wire mount')
  const man = await putManifests(base, layout)
  return {
    wall: (performance.now() - started) / 1000,
    rssKiB: mounts.rssKiB,
    cpu: mounts.cpu + man.cpu
  }
}

// ---------------------------------------------------------------------------------------------
// runs

const runs = []

/**
 * One measured run: a registry on fresh storage (cloned from `seed` when given), the command,
 * the registry's CPU and I/O over the command only, then everything deleted.
 */
async function measure(ctx, { caseName, tool, round, seed, exec, check }) {
  const id = crypto.randomBytes(4).toString('hex')
  const storage = path.join(ctx.work, `storage-${id}`)
  const out = path.join(ctx.work, `out-${id}`)
  await fsp.mkdir(out, { recursive: true })
  // Repository names unique to the run: skopeo keeps a persistent cache of where it saw each blob
  // (host:port/repository), and ports come round again; with fixed names it would sometimes mount
  // from a registry it remembers instead of uploading.
  const repo = `${REPO}-${id}`
  const repoB = `${REPO_B}-${id}`
  if (seed) await cloneStorage(seed, storage, repo)
  const reg = await startRegistry(storage, ctx.work)
  const rec = { case: caseName, tool, round, at: new Date().toISOString() }
  // dist/ can be rebuilt under a running bench: note which build each of our runs used.
  if (tool.startsWith('ours')) rec.action = fileSha256(ACTION)?.slice(0, 12)
  try {
    // Flush what earlier runs left dirty, so their write-back does not land in this run's time.
    spawnSync('sync')
    rec.busyBefore = await waitQuiet(ctx.quietWait)
    const before = reg.stat()
    const busy0 = systemBusy()
    const r = await exec({ host: reg.host, out, repo, repoB })
    const busy1 = systemBusy()
    const after = reg.stat()
    Object.assign(rec, {
      wall: r.wall,
      rssMiB: r.rssKiB ? r.rssKiB / 1024 : null,
      clientCpu: r.cpu ?? null,
      registryCpu: after.cpu - before.cpu,
      // everything else that ran meanwhile: other processes, kernel write-back, this script
      otherCpu: busy1 - busy0 - (r.cpu ?? 0) - (after.cpu - before.cpu),
      registryReadMiB: (after.rchar - before.rchar) / MiB,
      registryWriteMiB: (after.wchar - before.wchar) / MiB,
      ok: !r.error,
      error: r.error ?? undefined
    })
    if (r.outcomes) rec.outcomes = r.outcomes
    if (r.layerBytesUploaded !== undefined) rec.layerMiBUploaded = r.layerBytesUploaded / MiB
    if (r.summary) rec.summary = r.summary
    if (!r.error && check) {
      const problem = await check({ host: reg.host, out, result: r, repo, repoB })
      if (problem) Object.assign(rec, { ok: false, error: problem })
    }
  } catch (err) {
    Object.assign(rec, { ok: false, error: err instanceof Error ? err.message : String(err) })
  } finally {
    await reg.stop()
    await fsp.rm(storage, { recursive: true, force: true })
    await fsp.rm(out, { recursive: true, force: true })
  }
  runs.push(rec)
  const extra = rec.outcomes
    ? `  ${Object.entries(rec.outcomes)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}`
    : ''
  console.log(
    `  [${caseName}] round ${round} ${tool.padEnd(22)} ${rec.ok ? `${fmt(rec.wall).padStart(7)} s` : 'FAILED   '}  RSS ${fmt(rec.rssMiB, 0).padStart(5)} MiB  CPU ${fmt(rec.clientCpu).padStart(6)} s  registry CPU ${fmt(rec.registryCpu).padStart(6)} s  other ${fmt(rec.otherCpu).padStart(5)} s${extra}`
  )
  if (!rec.ok) console.log(`    ${String(rec.error).split('\n').join('\n    ')}`)
  return rec
}

/**
 * Runs one round's tools one after another, starting each round at the next tool. On this VM the
 * first run of a round measured slower whichever tool it was (pull 1g into a directory: 2.5 s
 * first in its round, 1.7 s second), so a fixed order would charge that to the same tool every
 * round; rotated, it lands on a different tool each round and the medians leave it out.
 */
async function runRound(ctx, round, list) {
  const k = (round - 1) % list.length
  for (const m of [...list.slice(k), ...list.slice(0, k)]) await measure(ctx, m)
}

/** Registry store holding `layoutTar` as REPO:TAG, pushed by skopeo (untimed), reused read-only. */
async function seedStorage(ctx, name, layoutTar, digest) {
  if (ctx.seeds.has(name)) return ctx.seeds.get(name)
  const storage = path.join(ctx.work, `seed-${name}`)
  const reg = await startRegistry(storage, ctx.work)
  try {
    const r = await runSkopeo(
      [
        '--dest-tls-verify=false',
        `oci-archive:${layoutTar}:${TAG}`,
        `docker://${reg.host}/${REPO}:${TAG}`
      ],
      ctx.work
    )
    if (r.error) throw new Error(`seeding ${name}: skopeo failed: ${r.error}`)
    const got = await remoteDigest(reg.host, REPO, TAG)
    if (got !== digest) throw new Error(`seeding ${name}: registry has ${got}, want ${digest}`)
  } finally {
    await reg.stop()
  }
  console.log(`  seed store for ${name}: pushed by skopeo (untimed); each run starts from a copy`)
  ctx.seeds.set(name, storage)
  return storage
}

const pushedDigestCheck =
  (digest, which = 'A') =>
  async ({ host, repo, repoB }) => {
    const name = which === 'B' ? repoB : repo
    const got = await remoteDigest(host, name, TAG)
    return got === digest ? null : `registry has ${name}:${TAG} = ${got}, want ${digest}`
  }

/**
 * One round's runs of a push case: ours (with `extra` inputs per tool name), skopeo and the wire,
 * each checked for the layout's digest at the registry.
 */
function pushRuns(ctx, { caseName, info, wire, isDir, round, ours = { ours: {} } }) {
  const check = pushedDigestCheck(info.digest)
  return [
    ...Object.entries(ours).map(([tool, extra]) => ({
      caseName,
      tool,
      round,
      exec: ({ host, repo }) =>
        runOurs(
          {
            layout: `${info.path}:${TAG}`,
            registry: host,
            reference: `${repo}:${TAG}`,
            direction: 'push',
            ...extra
          },
          ctx.work,
          ctx
        ),
      check: async (a) =>
        a.result.digest !== info.digest
          ? `action output digest ${a.result.digest}, want ${info.digest}`
          : check(a)
    })),
    {
      caseName,
      tool: 'skopeo',
      round,
      exec: ({ host, repo }) =>
        runSkopeo(
          [
            '--dest-tls-verify=false',
            `${isDir ? 'oci' : 'oci-archive'}:${info.path}:${TAG}`,
            `docker://${host}/${repo}:${TAG}`
          ],
          ctx.work
        ),
      check
    },
    { caseName, tool: 'wire', round, exec: ({ host, repo }) => wirePush(host, repo, wire), check }
  ]
}

async function casePush(ctx) {
  for (const [name, wireName] of [
    ['1g.tar', '1g-dir'],
    ['1g-dir', '1g-dir'],
    ['2p.tar', '2p-dir']
  ]) {
    const caseName = `push ${name}`
    const info = ctx.layouts[name]
    const wire = await readLayoutDir(ctx.layouts[wireName].path)
    const isDir = name.endsWith('-dir')
    console.log(`\n${caseName} (${gib(info.blobBytes)})`)
    for (let round = 1; round <= ctx.rounds; round++) {
      const list = pushRuns(ctx, { caseName, info, wire, isDir, round })
      if (name === '1g.tar')
        list.push({
          caseName,
          tool: 'wire --data-binary',
          round,
          exec: ({ host, repo }) => wirePush(host, repo, wire, true),
          check: pushedDigestCheck(info.digest)
        })
      await runRound(ctx, round, list)
    }
  }
}

/**
 * One 640 MiB layer: the default upload (one PUT per blob, resumable only by re-sending) against
 * the chunked upload the action used before (PATCHes of 256 MiB), skopeo and the wire.
 */
async function caseBigLayer(ctx) {
  const caseName = 'push big1.tar'
  const info = ctx.layouts['big1.tar']
  const wire = await readLayoutDir(ctx.layouts['big1-dir'].path)
  console.log(`\n${caseName} (${gib(info.blobBytes)}): one layer of 640 MiB`)
  const ours = { ours: {}, 'ours chunk-size 256MiB': { 'chunk-size': '256MiB' } }
  for (let round = 1; round <= ctx.rounds; round++)
    await runRound(ctx, round, pushRuns(ctx, { caseName, info, wire, isDir: false, round, ours }))
}

async function casePull(ctx) {
  for (const family of ['1g', '2p']) {
    const caseName = `pull ${family}`
    const info = ctx.layouts[`${family}.tar`]
    const wire = await readLayoutDir(ctx.layouts[`${family}-dir`].path)
    console.log(`\n${caseName} (${gib(info.blobBytes)})`)
    const seed = await seedStorage(ctx, family, info.path, info.digest)
    const outputCheck =
      (rel) =>
      async ({ out }) => {
        const got = await layoutDigest(path.join(out, rel))
        return got === info.digest ? null : `pulled layout has ${got}, want ${info.digest}`
      }
    const src = (host, repo) => `docker://${host}/${repo}:${TAG}`
    for (let round = 1; round <= ctx.rounds; round++) {
      const common = { caseName, round, seed }
      const list = []
      const ours =
        (rel) =>
        ({ host, out, repo }) =>
          runOurs(
            {
              layout: path.join(out, rel),
              registry: host,
              reference: `${repo}:${TAG}`,
              direction: 'pull'
            },
            ctx.work,
            ctx
          )
      list.push({
        ...common,
        tool: 'ours → dir',
        exec: ours('layout'),
        check: outputCheck('layout')
      })
      list.push({
        ...common,
        tool: 'ours → tar',
        exec: ours('layout.tar'),
        check: outputCheck('layout.tar')
      })
      list.push({
        ...common,
        tool: 'skopeo → oci',
        exec: ({ host, out, repo }) =>
          runSkopeo(
            ['--src-tls-verify=false', src(host, repo), `oci:${path.join(out, 'layout')}:${TAG}`],
            ctx.work
          ),
        check: outputCheck('layout')
      })
      list.push({
        ...common,
        tool: 'skopeo → oci-archive',
        exec: ({ host, out, repo }) =>
          runSkopeo(
            [
              '--src-tls-verify=false',
              src(host, repo),
              `oci-archive:${path.join(out, 'layout.tar')}:${TAG}`
            ],
            ctx.work
          ),
        check: outputCheck('layout.tar')
      })
      list.push({
        ...common,
        tool: 'wire',
        exec: ({ host, out, repo }) => wirePull(host, repo, wire, path.join(out, 'layout')),
        check: async ({ out }) => {
          const got = await dirBytes(path.join(out, 'layout', 'blobs'))
          const want = wire.blobBytes + wire.manifests.reduce((s, m) => s + m.size, 0)
          return got === want ? null : `wire pull wrote ${got} bytes, want ${want}`
        }
      })
      await runRound(ctx, round, list)
    }
  }
}

async function caseRepush(ctx) {
  const caseName = 'repush 1g.tar'
  const info = ctx.layouts['1g.tar']
  const wire = await readLayoutDir(ctx.layouts['1g-dir'].path)
  console.log(`\n${caseName}: the registry already holds the image`)
  const seed = await seedStorage(ctx, '1g', info.path, info.digest)
  for (let round = 1; round <= ctx.rounds; round++) {
    // Node's start under the same conditions, right before: the floor of this case.
    for (let i = 0; i < 3; i++)
      ctx.nodeStartRepush.push((await runProc(process.execPath, ['-e', '0'])).wall)
    const list = []
    list.push({
      caseName,
      tool: 'ours',
      round,
      seed,
      exec: ({ host, repo }) =>
        runOurs(
          {
            layout: `${info.path}:${TAG}`,
            registry: host,
            reference: `${repo}:${TAG}`,
            direction: 'push'
          },
          ctx.work,
          ctx
        ),
      check: pushedDigestCheck(info.digest)
    })
    list.push({
      caseName,
      tool: 'skopeo',
      round,
      seed,
      exec: ({ host, repo }) =>
        runSkopeo(
          [
            '--dest-tls-verify=false',
            `oci-archive:${info.path}:${TAG}`,
            `docker://${host}/${repo}:${TAG}`
          ],
          ctx.work
        ),
      check: pushedDigestCheck(info.digest)
    })
    list.push({
      caseName,
      tool: 'wire',
      round,
      seed,
      exec: ({ host, repo }) => wireRepush(host, repo, wire),
      check: pushedDigestCheck(info.digest)
    })
    await runRound(ctx, round, list)
  }
}

async function caseMount(ctx) {
  const caseName = 'mount 1g.tar'
  const info = ctx.layouts['1g.tar']
  const wire = await readLayoutDir(ctx.layouts['1g-dir'].path)
  console.log(`\n${caseName}: ${REPO} holds the image, push it to ${REPO_B} on the same registry`)
  const seed = await seedStorage(ctx, '1g', info.path, info.digest)
  for (let round = 1; round <= ctx.rounds; round++) {
    const list = []
    const separate = (tool, extra) => ({
      caseName,
      tool,
      round,
      seed,
      exec: ({ host, repo, repoB }) =>
        runOurs(
          {
            layout: `${info.path}:${TAG}`,
            registry: host,
            reference: `${repoB}:${TAG}`,
            direction: 'push',
            ...extra(repo)
          },
          ctx.work,
          ctx
        ),
      check: pushedDigestCheck(info.digest, 'B')
    })
    // A separate call, as in a later job: told where the blobs are (mount-from), and not told.
    if (ctx.hasMountFromInput)
      list.push(separate('ours, mount-from: A', (repo) => ({ 'mount-from': repo })))
    list.push(separate(ctx.hasMountFromInput ? 'ours, no mount-from' : 'ours', () => ({})))
    // The action mounts from the first repository of the same call: reference A (already there,
    // one HEAD) with B among `tags`, where action.yml has that input.
    if (ctx.hasTagsInput)
      list.push({
        caseName,
        tool: 'ours, A + tags: B',
        round,
        seed,
        exec: ({ host, repo, repoB }) =>
          runOurs(
            {
              layout: `${info.path}:${TAG}`,
              registry: host,
              reference: `${repo}:${TAG}`,
              tags: `${host}/${repoB}:${TAG}`,
              direction: 'push'
            },
            ctx.work,
            ctx
          ),
        check: pushedDigestCheck(info.digest, 'B')
      })
    list.push({
      caseName,
      tool: 'skopeo',
      round,
      seed,
      exec: ({ host, repoB }) =>
        runSkopeo(
          [
            '--dest-tls-verify=false',
            `oci-archive:${info.path}:${TAG}`,
            `docker://${host}/${repoB}:${TAG}`
          ],
          ctx.work
        ),
      check: pushedDigestCheck(info.digest, 'B')
    })
    list.push({
      caseName,
      tool: 'wire',
      round,
      seed,
      exec: ({ host, repo, repoB }) => wireMount(host, repo, repoB, wire),
      check: pushedDigestCheck(info.digest, 'B')
    })
    await runRound(ctx, round, list)
  }
}

/** Our peak RSS against blob size: push, pull to a directory and to a tar, for 1 GiB and 4 GiB. */
async function caseRss(ctx) {
  const families = ['1g']
  if (ctx.big) families.push('4g')
  else console.log(`\nrss 4g: skipped (${ctx.bigWhy})`)
  for (const family of families) {
    const caseName = `rss ${family}`
    const info = ctx.layouts[`${family}.tar`]
    console.log(`\n${caseName} (${gib(info.blobBytes)}): our push, then our pulls from it`)
    // Push into a fresh store; the pulls then read from a seed store (a copy per pull).
    await measure(ctx, {
      caseName,
      tool: 'ours push',
      round: 1,
      exec: ({ host, repo }) =>
        runOurs(
          {
            layout: `${info.path}:${TAG}`,
            registry: host,
            reference: `${repo}:${TAG}`,
            direction: 'push'
          },
          ctx.work,
          ctx
        ),
      check: pushedDigestCheck(info.digest)
    })
    const seed = await seedStorage(ctx, family, info.path, info.digest)
    for (const [tool, rel] of [
      ['ours pull → dir', 'layout'],
      ['ours pull → tar', 'layout.tar']
    ]) {
      await measure(ctx, {
        caseName,
        tool,
        round: 1,
        seed,
        exec: ({ host, out, repo }) =>
          runOurs(
            {
              layout: path.join(out, rel),
              registry: host,
              reference: `${repo}:${TAG}`,
              direction: 'pull'
            },
            ctx.work,
            ctx
          ),
        check: async ({ out }) => {
          const got = await layoutDigest(path.join(out, rel))
          return got === info.digest ? null : `pulled layout has ${got}, want ${info.digest}`
        }
      })
    }
    if (family === '4g') {
      await fsp.rm(seed, { recursive: true, force: true })
      ctx.seeds.delete(family)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// summary

function summarize() {
  const groups = new Map()
  for (const r of runs) {
    const key = `${r.case}\0${r.tool}`
    if (!groups.has(key)) groups.set(key, [])
    groups.get(key).push(r)
  }
  const rows = []
  for (const rs of groups.values()) {
    const ok = rs.filter((r) => r.ok)
    rows.push({
      case: rs[0].case,
      tool: rs[0].tool,
      runs: rs.length,
      failed: rs.length - ok.length,
      medianS: median(ok.map((r) => r.wall)),
      minS: minOf(ok.map((r) => r.wall)),
      peakRssMiB: maxOf(ok.map((r) => r.rssMiB)),
      clientCpuS: median(ok.map((r) => r.clientCpu)),
      registryCpuS: median(ok.map((r) => r.registryCpu)),
      otherCpuS: median(ok.map((r) => r.otherCpu)),
      registryReadMiB: median(ok.map((r) => r.registryReadMiB)),
      registryWriteMiB: median(ok.map((r) => r.registryWriteMiB)),
      layerMiBUploaded: maxOf(ok.map((r) => r.layerMiBUploaded)),
      outcomes: ok.find((r) => r.outcomes)?.outcomes
    })
  }
  const find = (c, t) => rows.find((r) => r.case === c && r.tool === t)
  const ratio = (a, b) => (a?.medianS && b?.medianS ? a.medianS / b.medianS : null)
  for (const row of rows) {
    let skopeoTool = null
    let wireTool = null
    if (row.case.startsWith('pull')) {
      if (row.tool === 'ours → dir') skopeoTool = 'skopeo → oci'
      if (row.tool === 'ours → tar') skopeoTool = 'skopeo → oci-archive'
      if (row.tool.startsWith('ours')) wireTool = 'wire'
    } else if (row.tool.startsWith('ours')) {
      skopeoTool = 'skopeo'
      wireTool = 'wire'
    }
    row.vsSkopeo = skopeoTool ? ratio(row, find(row.case, skopeoTool)) : null
    row.vsWire = wireTool ? ratio(row, find(row.case, wireTool)) : null
  }
  return { rows, find }
}

function printTable(rows) {
  const head = [
    'case',
    'tool',
    'median s',
    'min s',
    'peak RSS MiB',
    'CPU s',
    'registry CPU s',
    'other CPU s',
    '×skopeo',
    '×wire'
  ]
  const body = rows.map((r) => [
    r.case,
    r.tool + (r.failed ? ` (${r.failed} failed)` : ''),
    fmt(r.medianS),
    fmt(r.minS),
    fmt(r.peakRssMiB, 0),
    fmt(r.clientCpuS),
    fmt(r.registryCpuS),
    fmt(r.otherCpuS),
    fmt(r.vsSkopeo),
    fmt(r.vsWire)
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  const lines = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)]
  return lines.join('\n')
}

function markdownTable(rows) {
  const head = [
    'case',
    'tool',
    'median s',
    'min s',
    'peak RSS MiB',
    'CPU s',
    'registry CPU s',
    'other CPU s',
    '×skopeo',
    '×wire'
  ]
  const out = [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`
  ]
  for (const r of rows)
    out.push(
      `| ${[r.case, r.tool, fmt(r.medianS), fmt(r.minS), fmt(r.peakRssMiB, 0), fmt(r.clientCpuS), fmt(r.registryCpuS), fmt(r.otherCpuS), fmt(r.vsSkopeo), fmt(r.vsWire)].join(' | ')} |`
    )
  return out.join('\n')
}

function evaluateTargets(find, nodeStart, ctx) {
  const t = []
  const add = (name, value, limit, pass, detail = '') =>
    t.push({
      target: name,
      value,
      limit,
      pass: value === null || value === undefined ? null : pass,
      detail
    })
  const ratio = (a, b) => (a?.medianS && b?.medianS ? a.medianS / b.medianS : null)
  if (ctx.cases.has('push')) {
    const r = ratio(find('push 1g.tar', 'ours'), find('push 1g.tar', 'skopeo'))
    add('push 1 GiB tar ≤ 0.6 × skopeo', r, TARGETS.pushVsSkopeo, r <= TARGETS.pushVsSkopeo)
    const w = ratio(find('push 1g.tar', 'ours'), find('push 1g.tar', 'wire'))
    add('push 1 GiB tar ≤ 1.25 × wire', w, TARGETS.pushVsWire, w <= TARGETS.pushVsWire)
  }
  if (ctx.cases.has('pull')) {
    const d = ratio(find('pull 1g', 'ours → dir'), find('pull 1g', 'skopeo → oci'))
    add(
      'pull 1 GiB to a directory ≤ 0.8 × skopeo',
      d,
      TARGETS.pullDirVsSkopeo,
      d <= TARGETS.pullDirVsSkopeo
    )
    const r = ratio(find('pull 1g', 'ours → tar'), find('pull 1g', 'skopeo → oci-archive'))
    add(
      'pull 1 GiB to a tar ≤ 0.6 × skopeo',
      r,
      TARGETS.pullTarVsSkopeo,
      r <= TARGETS.pullTarVsSkopeo
    )
  }
  const ours1g = runs.filter(
    (r) =>
      r.ok &&
      r.tool.startsWith('ours') &&
      (/^(push|pull) (1g|1g\.tar|1g-dir)$/.test(r.case) || r.case === 'rss 1g')
  )
  if (ours1g.length) {
    const m = maxOf(ours1g.map((r) => r.rssMiB))
    add('peak RSS ≤ 150 MiB, 1 GiB (our push and pulls)', m, TARGETS.rssMiB, m <= TARGETS.rssMiB)
  }
  const ours4g = runs.filter((r) => r.ok && r.case === 'rss 4g')
  if (ours4g.length) {
    const m = maxOf(ours4g.map((r) => r.rssMiB))
    const m1 = maxOf(runs.filter((r) => r.ok && r.case === 'rss 1g').map((r) => r.rssMiB))
    add(
      'peak RSS ≤ 150 MiB, 4 GiB (our push and pulls)',
      m,
      TARGETS.rssMiB,
      m <= TARGETS.rssMiB,
      m1 ? `1 GiB: ${fmt(m1, 0)} MiB; 4 GiB/1 GiB = ${fmt(m / m1)}` : ''
    )
  }
  if (ctx.cases.has('repush')) {
    const row = find('repush 1g.tar', 'ours')
    const beyond = row?.medianS != null && nodeStart != null ? row.medianS - nodeStart : null
    const headsOnly =
      row?.outcomes &&
      Object.keys(row.outcomes).every((k) => k.endsWith('already present')) &&
      (row.layerMiBUploaded ?? 0) === 0
    add(
      're-push unchanged 1 GiB: < 0.3 s beyond Node start',
      beyond,
      TARGETS.repushBeyondNodeS,
      beyond < TARGETS.repushBeyondNodeS,
      `median ${fmt(row?.medianS)} s − node start ${fmt(nodeStart, 3)} s`
    )
    add(
      're-push unchanged 1 GiB: HEADs only, nothing uploaded',
      headsOnly ? 1 : 0,
      1,
      !!headsOnly,
      row?.outcomes ? JSON.stringify(row.outcomes) : ''
    )
  }
  if (ctx.cases.has('mount')) {
    const row = find('mount 1g.tar', 'ours, mount-from: A') ?? find('mount 1g.tar', 'ours')
    add(
      `second repository, separate call after A${row?.tool === 'ours' ? '' : ' (mount-from: A)'}: < 0.5 s`,
      row?.medianS ?? null,
      TARGETS.mountS,
      row?.medianS < TARGETS.mountS
    )
    const up = row?.layerMiBUploaded ?? null
    add(
      `second repository, separate call${row?.tool === 'ours' ? '' : ' (mount-from: A)'}: no layer bytes uploaded (MiB uploaded)`,
      up,
      0,
      up === 0,
      `registry read ${fmt(row?.registryReadMiB, 0)} MiB during the push; outcomes ${JSON.stringify(row?.outcomes ?? {})}`
    )
    const alt = find('mount 1g.tar', 'ours, A + tags: B')
    if (alt) {
      add(
        'second repository, one call (reference A, tags: B): < 0.5 s',
        alt.medianS,
        TARGETS.mountS,
        alt.medianS < TARGETS.mountS
      )
      add(
        'second repository, one call: no layer bytes uploaded (MiB uploaded)',
        alt.layerMiBUploaded ?? 0,
        0,
        (alt.layerMiBUploaded ?? 0) === 0,
        `registry read ${fmt(alt.registryReadMiB, 1)} MiB; outcomes ${JSON.stringify(alt.outcomes ?? {})}`
      )
    }
  }
  return t
}

function printTargets(targets) {
  const lines = []
  for (const t of targets) {
    const v = t.value === null || t.value === undefined ? '-' : fmt(t.value)
    const verdict = t.pass === null ? 'n/a ' : t.pass ? 'PASS' : 'FAIL'
    lines.push(`${verdict}  ${t.target}: ${v}${t.detail ? `  (${t.detail})` : ''}`)
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// main

/** Prints the table and targets of an earlier run's JSON again, and rewrites its markdown. */
async function reprint(file) {
  const report = JSON.parse(await fsp.readFile(file, 'utf8'))
  console.log(
    `${file}: ${report.date}, ${report.options.rounds} rounds, ${report.action?.path ?? ''} ${report.action?.sha256?.slice(0, 12) ?? ''}\n`
  )
  console.log(printTable(report.summary))
  console.log('\nTargets\n' + printTargets(report.targets))
  await writeMarkdown(file, report.summary, report.targets)
}

async function writeMarkdown(jsonFile, rows, targets) {
  const lines = printTargets(targets)
    .split('\n')
    .map((l) => `- ${l}`)
  await fsp.writeFile(
    jsonFile.replace(/\.json$/, '') + '.md',
    `${markdownTable(rows)}\n\n${lines.join('\n')}\n`
  )
}

async function main() {
  const opts = readOptions()
  if (opts.report) return reprint(path.resolve(opts.report))
  const started = performance.now()
  const loadAtStart = os.loadavg()
  for (const [tool, hint] of [
    ['docker-registry', 'apt-get install docker-registry'],
    ['skopeo', 'apt-get install skopeo'],
    ['curl', 'apt-get install curl']
  ])
    if (!which(tool))
      throw new Error(`${tool} is not installed (${hint}, or bash scripts/setup.sh)`)
  if (!fs.existsSync(ACTION)) throw new Error(`${ACTION} is missing: npm run build`)
  HAVE_TIME = ensureTime()
  actionDefaults = readActionDefaults()
  // dist/ may be rebuilt while this runs (others work in the tree): record what was measured.
  const actionAtStart = {
    sha256: fileSha256(ACTION),
    mtime: fs.statSync(ACTION).mtime.toISOString()
  }
  const gitHead =
    spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || null

  await fsp.mkdir(BENCH_DIR, { recursive: true })
  const free = freeBytes(BENCH_DIR)
  let big = opts.big
  let bigWhy = ''
  if (big === undefined) {
    big = free >= BIG_FREE_BYTES
    bigWhy = big
      ? ''
      : `only ${gib(free)} free, the 4 GiB case wants ${gib(BIG_FREE_BYTES)}; --big forces it`
  } else if (!big) bigWhy = '--no-big / BENCH_BIG=0'
  console.log(
    `free disk under ${BENCH_DIR}: ${gib(free)}; 4 GiB case ${opts.cases.has('rss') ? (big ? 'on' : 'off') : 'not selected'}`
  )
  if (free < MIN_FREE_BYTES)
    console.log(`warning: less than ${gib(MIN_FREE_BYTES)} free; runs may fail for want of disk`)

  const needed = new Set()
  if (opts.cases.has('push')) ['1g.tar', '1g-dir', '2p.tar', '2p-dir'].forEach((n) => needed.add(n))
  if (opts.cases.has('pull')) ['1g.tar', '1g-dir', '2p.tar', '2p-dir'].forEach((n) => needed.add(n))
  if (opts.cases.has('repush') || opts.cases.has('mount'))
    ['1g.tar', '1g-dir'].forEach((n) => needed.add(n))
  if (opts.cases.has('big-layer')) ['big1.tar', 'big1-dir'].forEach((n) => needed.add(n))
  if (opts.cases.has('rss')) {
    needed.add('1g.tar')
    if (big) needed.add('4g.tar')
  }
  const layouts = await ensureLayouts([...needed])

  const work = await fsp.mkdtemp(path.join(BENCH_DIR, 'run-'))
  scratchDir = work
  const ctx = {
    rounds: opts.rounds,
    cases: opts.cases,
    big,
    bigWhy,
    concurrency: opts.concurrency,
    quietWait: opts.quietWait,
    layouts,
    work,
    seeds: new Map(),
    hasTagsInput: /^ {2}tags:\s*$/m.test(fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')),
    hasMountFromInput: /^ {2}mount-from:\s*$/m.test(
      fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')
    ),
    nodeStartRepush: []
  }
  const cleanup = () => {
    for (const r of liveRegistries) process.kill(r.pid, 'SIGKILL')
    fs.rmSync(work, { recursive: true, force: true })
  }
  process.once('SIGINT', () => {
    cleanup()
    process.exit(130)
  })
  process.once('SIGTERM', () => {
    cleanup()
    process.exit(143)
  })

  let nodeStart
  try {
    // Node's own start: the floor under any `node dist/index.js` run.
    const ns = []
    for (let i = 0; i < 7; i++) ns.push((await runProc(process.execPath, ['-e', '0'])).wall)
    nodeStart = median(ns)
    console.log(
      `node -e 0: median ${fmt(nodeStart, 3)} s (${ns.map((x) => x.toFixed(3)).join(', ')})`
    )

    if (opts.cases.has('push')) await casePush(ctx)
    if (opts.cases.has('pull')) await casePull(ctx)
    if (opts.cases.has('repush')) await caseRepush(ctx)
    if (opts.cases.has('mount')) await caseMount(ctx)
    if (opts.cases.has('rss')) await caseRss(ctx)
    if (opts.cases.has('big-layer')) await caseBigLayer(ctx)
  } finally {
    cleanup()
  }

  const actionAtEnd = fileSha256(ACTION)
  if (actionAtEnd !== actionAtStart.sha256) {
    const builds = new Map()
    for (const r of runs.filter((r) => r.action)) {
      if (!builds.has(r.action)) builds.set(r.action, new Set())
      builds.get(r.action).add(r.case)
    }
    console.log(
      `\nwarning: ${path.relative(ROOT, ACTION)} changed during the run; our runs used ${[...builds]
        .map(([h, cases]) => `${h} (${[...cases].join(', ')})`)
        .join(' and ')}`
    )
  }
  const { rows, find } = summarize()
  const nodeStartRepush = median(ctx.nodeStartRepush)
  const targets = evaluateTargets(find, nodeStartRepush ?? nodeStart, ctx)
  const totalS = (performance.now() - started) / 1000
  console.log(
    `\nResults (${opts.rounds} round${opts.rounds > 1 ? 's' : ''}, ${fmt(totalS / 60, 1)} min in all)\n`
  )
  console.log(printTable(rows))
  console.log(
    `\nnode -e 0: ${fmt(nodeStart, 3)} s at the start${nodeStartRepush !== null ? `, ${fmt(nodeStartRepush, 3)} s beside the re-push runs` : ''}. peak RSS: max over runs (wire: sum over its parallel curls). CPU: the tool's user+sys. registry CPU: the registry process's user+sys during the command. other CPU: everything else busy meanwhile (other processes, kernel write-back, this script).`
  )
  console.log('\nTargets\n' + printTargets(targets))
  const regCpu = rows
    .filter((r) => r.registryCpuS !== null && r.medianS)
    .map(
      (r) =>
        `${r.case} / ${r.tool}: ${fmt(r.registryCpuS)} s (${fmt((100 * r.registryCpuS) / r.medianS, 0)}% of one core over ${fmt(r.medianS)} s)`
    )
  console.log(
    `\nRegistry CPU (median per run; ${os.cpus().length} cores in all):\n  ${regCpu.join('\n  ')}`
  )

  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: +(os.totalmem() / GiB).toFixed(1),
      kernel: os.release(),
      loadavgAtStart: loadAtStart,
      node: process.version,
      skopeo: toolVersion('skopeo', ['--version']),
      registry: toolVersion('docker-registry', ['--version']),
      curl: toolVersion('curl', ['--version'])
    },
    options: {
      rounds: opts.rounds,
      cases: [...opts.cases],
      big,
      concurrency: opts.concurrency ?? actionDefaults.concurrency ?? null,
      rssMethod: HAVE_TIME ? 'GNU time %M' : '/proc VmHWM polling'
    },
    layouts: Object.fromEntries(
      Object.entries(layouts).map(([k, v]) => [
        k,
        { path: v.path, digest: v.digest, blobBytes: v.blobBytes, size: v.size }
      ])
    ),
    action: {
      path: path.relative(ROOT, ACTION),
      ...actionAtStart,
      changedDuringRun: actionAtEnd !== actionAtStart.sha256,
      gitHead
    },
    nodeStartS: nodeStart,
    nodeStartRepushS: nodeStartRepush,
    totalMinutes: +(totalS / 60).toFixed(2),
    summary: rows,
    targets,
    runs
  }
  await fsp.mkdir(path.dirname(opts.json), { recursive: true })
  await fsp.writeFile(opts.json, JSON.stringify(report, null, 2) + '\n')
  console.log(`\nfigures: ${opts.json}`)
  await writeMarkdown(opts.json, rows, targets)
}

main().catch((err) => {
  console.error(`bench: ${err instanceof Error ? err.stack : err}`)
  process.exitCode = 1
})
