// @ts-check
// What one run talks to: its registries (one, or several for a fan-out), each behind a delay
// proxy when the bench asks for latency. Started before the run and stopped after it; the CPU of
// the registries is summed, that of the proxies kept apart.

import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { procStat } from './machine.mjs'
import { diesWithUs, startRegistry, track, untrack } from './registry.mjs'

/** @import { Registry } from './registry.mjs' */

const PROXY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'delay-proxy.mjs')

/**
 * scripts/bench/delay-proxy.mjs in front of `upstream`, as a process of its own.
 * @param {string} upstream host:port of the registry
 * @param {number} delayMs
 * @returns {Promise<Registry>}
 */
export async function startProxy(upstream, delayMs) {
  const [cmd, ...args] = diesWithUs([process.execPath, PROXY, upstream, String(delayMs)])
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let exited = false
  /** @type {Promise<void>} */
  const exitP = new Promise((r) => proc.on('exit', () => ((exited = true), r())))
  let stderr = ''
  proc.stderr.on('data', (b) => (stderr = (stderr + b).slice(-4096)))
  /** @type {Registry} */
  const proxy = {
    host: '',
    pid: proc.pid,
    stat: () => procStat(proc.pid),
    async stop() {
      untrack(proxy)
      if (!exited) proc.kill('SIGKILL')
      await exitP
    }
  }
  track(proxy)
  /** @type {string} */
  const port = await new Promise((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', (b) => {
      out += b
      const m = /^listening (\d+)$/m.exec(out)
      if (m) resolve(m[1])
    })
    proc.on('error', reject)
    void exitP.then(() => reject(new Error(`delay proxy exited: ${stderr.trim() || 'no output'}`)))
  }).catch(async (err) => {
    await proxy.stop()
    throw err
  })
  proxy.host = `127.0.0.1:${port}`
  return proxy
}

/**
 * @typedef {object} Servers
 * @property {string[]} hosts where the tool goes: the proxies' hosts, else the registries'
 * @property {string[]} registryHosts the registries themselves (the checks ask them directly)
 * @property {() => { cpu: number, rchar: number, wchar: number, proxyCpu: number | null }} stat
 *   registries summed; the proxies' CPU (null without them)
 * @property {() => Promise<void>} stop
 */

/**
 * `count` registries, the first on `storage` (which may hold a seed), the others on fresh
 * storage beside it; each behind a proxy adding `latencyMs` to every request when it is given.
 * @param {string} storage
 * @param {string} work
 * @param {{ count?: number, latencyMs?: number }} [opts]
 * @returns {Promise<Servers>}
 */
export async function startServers(storage, work, { count = 1, latencyMs } = {}) {
  /** @type {Registry[]} */
  const regs = []
  /** @type {Registry[]} */
  const proxies = []
  const stop = async () => {
    for (const s of [...proxies, ...regs]) await s.stop()
  }
  try {
    for (let i = 0; i < count; i++)
      regs.push(await startRegistry(i ? `${storage}-${i}` : storage, work))
    if (latencyMs !== undefined)
      for (const r of regs) proxies.push(await startProxy(r.host, latencyMs))
  } catch (err) {
    await stop()
    throw err
  }
  const sum = (/** @type {Registry[]} */ list) => {
    const all = list.map((s) => s.stat())
    /** @type {(k: 'cpu' | 'rchar' | 'wchar') => number} */
    const add = (k) => all.reduce((n, x) => n + x[k], 0)
    return { cpu: add('cpu'), rchar: add('rchar'), wchar: add('wchar') }
  }
  return {
    hosts: (proxies.length ? proxies : regs).map((s) => s.host),
    registryHosts: regs.map((r) => r.host),
    stat: () => ({ ...sum(regs), proxyCpu: proxies.length ? sum(proxies).cpu : null }),
    stop
  }
}

/** The storage directories `startServers` used besides `storage`. */
export const extraStorages = (/** @type {string} */ storage, /** @type {number} */ count) =>
  Array.from({ length: count - 1 }, (_, i) => `${storage}-${i + 1}`)
