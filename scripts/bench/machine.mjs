// @ts-check
// What the machine says about a run: wall time, peak RSS and CPU of a command (GNU time, or
// /proc polling without it), a process's CPU and I/O, the whole machine's busy time, disk.

import { spawn, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { clearInterval, setInterval } from 'node:timers'
import { MiB, median, sleep } from './common.mjs'

const TIME_BIN = '/usr/bin/time'
const CMD_TIMEOUT_MS = 15 * 60 * 1000
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100

/**
 * @typedef {object} ProcResult
 * @property {number} code exit code (128 when killed by a signal)
 * @property {number} wall seconds
 * @property {number | null} rssKiB peak RSS
 * @property {number | null} cpu user+sys seconds (GNU time only)
 * @property {number | null} [sys] the sys part of it (GNU time only)
 * @property {string} stdout the first 4 MiB or so
 * @property {string} stderr
 */

/**
 * @typedef {object} ProcOptions
 * @property {NodeJS.ProcessEnv} [env]
 * @property {string} [cwd]
 * @property {number} [timeoutMs]
 */

let haveTime = false
let scratchDir = os.tmpdir() // GNU time's output files; the run's work dir once it exists

/** @param {string} dir where GNU time's output files go from now on */
export function setScratchDir(dir) {
  scratchDir = dir
}

export const usingGnuTime = () => haveTime

/** @param {string} cmd */
export function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

/** @param {string} cmd @param {string[]} args */
export function toolVersion(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return (r.stdout || r.stderr || '').split('\n')[0].trim()
}

/** GNU time gives peak RSS and CPU per command; install it (Debian package `time`) if missing. */
export function ensureTime() {
  haveTime = fs.existsSync(TIME_BIN)
  if (haveTime) return true
  if (process.getuid?.() === 0 && which('apt-get')) {
    console.log('installing GNU time (apt-get install -y time) for peak-RSS measurement')
    const r = spawnSync('apt-get', ['install', '-y', 'time'], { stdio: 'inherit' })
    haveTime = r.status === 0 && fs.existsSync(TIME_BIN)
    if (haveTime) return true
  }
  console.log('GNU time unavailable: peak RSS by polling /proc/<pid>/status VmHWM, no tool CPU')
  return false
}

/**
 * Runs one command to completion. With GNU time: peak RSS (KiB) and user+sys CPU of the command
 * (and of children it waited for). Without: VmHWM polled from /proc every 10 ms.
 * @param {string} cmd
 * @param {string[]} args
 * @param {ProcOptions} [opts]
 * @returns {Promise<ProcResult>}
 */
export function runProc(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const timeFile = haveTime
      ? path.join(scratchDir, `bench-time-${process.pid}-${crypto.randomBytes(4).toString('hex')}`)
      : null
    const argv = timeFile ? ['-f', '%M %U %S', '-o', timeFile, cmd, ...args] : args
    const started = performance.now()
    const child = spawn(timeFile ? TIME_BIN : cmd, argv, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    /** @type {Buffer[]} */
    const out = []
    /** @type {Buffer[]} */
    const err = []
    let outLen = 0
    child.stdout.on('data', (/** @type {Buffer} */ b) => {
      if (outLen < 4 * MiB) out.push(b)
      outLen += b.length
    })
    child.stderr.on('data', (/** @type {Buffer} */ b) => err.push(b))
    let hwm = 0
    const poll = timeFile
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
      let sys = null
      if (timeFile) {
        try {
          const lines = fs.readFileSync(timeFile, 'utf8').trim().split('\n')
          const [m, u, s] = lines[lines.length - 1].trim().split(/\s+/).map(Number)
          rssKiB = m
          cpu = u + s
          sys = s
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
        sys,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8')
      })
    })
  })
}

/** Wall time of `node -e 0`: Node's own start, the floor under any run of the action. */
export async function nodeStartS() {
  return (await runProc(process.execPath, ['-e', '0'])).wall
}

/**
 * CPU seconds and bytes read/written so far by one process (the registry).
 * @param {number | undefined} pid
 */
export function procStat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    // fields after "pid (comm) ": state=0 ... utime=11 stime=12 (14 and 15 in proc(5))
    const cpu = (Number(f[11]) + Number(f[12])) / CLK_TCK
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8')
    const num = (/** @type {string} */ k) =>
      Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1] ?? NaN)
    return { cpu, rchar: num('rchar'), wchar: num('wchar') }
  } catch {
    return { cpu: NaN, rchar: NaN, wchar: NaN }
  }
}

/** CPU seconds the whole machine has been busy (all cores), from /proc/stat. */
export function systemBusy() {
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

/**
 * Samples how many cores the machine keeps busy while `work` runs, every 100 ms: the median of
 * the samples says whether a run's bulk left any core idle (its start and tail aside).
 * @template T
 * @param {() => Promise<T>} work
 * @returns {Promise<{ result: T, busyCores: number | null }>}
 */
export async function sampleBusy(work) {
  /** @type {number[]} */
  const samples = []
  let last = systemBusy()
  let lastAt = performance.now()
  const timer = setInterval(() => {
    const busy = systemBusy()
    const at = performance.now()
    samples.push((busy - last) / ((at - lastAt) / 1000))
    last = busy
    lastAt = at
  }, 100)
  try {
    return { result: await work(), busyCores: median(samples) }
  } finally {
    clearInterval(timer)
  }
}

/**
 * CPU seconds this machine takes to sha256 1 GiB in Node, as our push does and the wire does
 * not: part of the push's floor.
 */
export function sha256GiBCpuS() {
  const buf = Buffer.alloc(MiB, 7)
  const started = process.cpuUsage()
  const hash = crypto.createHash('sha256')
  for (let i = 0; i < 1024; i++) hash.update(buf)
  hash.digest()
  const used = process.cpuUsage(started)
  return (used.user + used.system) / 1e6
}

let quietBudgetS = 180

/**
 * Waits (up to `maxS`, and 180 s over the whole bench) until the machine is idle: other work on
 * 2 cores (tests, builds) shows directly in the figures. Returns the busy cores seen last.
 * @param {number} maxS
 */
export async function waitQuiet(maxS) {
  const started = performance.now()
  for (;;) {
    const b0 = systemBusy()
    await sleep(500)
    const busy = (systemBusy() - b0) / 0.5
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

/** @param {string} dir */
export function freeBytes(dir) {
  const st = fs.statfsSync(dir)
  return st.bavail * st.bsize
}

/**
 * Bytes under a path (0 when it is missing).
 * @param {string} p
 * @returns {Promise<number>}
 */
export async function dirBytes(p) {
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

/** @param {string} file */
export function fileSha256(file) {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
  } catch {
    return null
  }
}
