// Throwaway CNCF distribution registries (docker-registry 2.8) on loopback, one per test file.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import net, { type Socket } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { hashSync } from 'bcryptjs'

export interface StartRegistryOptions {
  /** htpasswd users (name -> plaintext password); when set the registry requires Basic auth */
  users?: Record<string, string>
  /** path of a .tar.gz dump of registry storage (contains docker/registry/v2/...) to unpack into the root before start */
  storageDump?: string
  /** token auth: the registry trusts JWTs signed by the key whose certificate is in rootCertBundle */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string }
  /** serve HTTPS with this certificate and key (PEM file paths) */
  tls?: { certificate: string; key: string }
}

export interface TestRegistry {
  /** '127.0.0.1:PORT' */
  host: string
  /** storage root dir (temp); holds docker/registry/v2/... */
  root: string
  /** kills the process and removes the temp dirs; safe to call more than once */
  stop(): Promise<void>
}

const REGISTRY_BIN = 'docker-registry'
const START_TIMEOUT_MS = 15_000
const PORT_ATTEMPTS = 5
const STDERR_KEEP = 16 * 1024
// bcrypt is mandatory for distribution's htpasswd; cost 5 keeps hashing (and the registry's
// per-request verification) in the low milliseconds.
const BCRYPT_COST = 5

const execFileP = promisify(execFile)

// Under jest, `process` is a per-test-file copy whose 'exit' listeners never run, so the handler
// below only helps when these helpers are used outside jest. The real guarantee is the parent-death
// signal set through setpriv (see spawnRegistry): the kernel kills the registry when its parent dies,
// even if the jest worker is SIGKILLed.
const live = new Set<{ child: ChildProcess; dir: string }>()
let exitHookInstalled = false
function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const { child, dir } of live) {
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  installExitHook()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'oci-test-registry-'))
  try {
    const root = path.join(dir, 'storage')
    await mkdir(root)
    if (opts.storageDump !== undefined) {
      // The dumps hold docker/registry/v2/..., which is exactly the layout distribution expects
      // under its filesystem rootdirectory.
      await execFileP('tar', ['-xzf', opts.storageDump, '-C', root])
    }
    let htpasswd: string | undefined
    if (opts.users !== undefined) {
      htpasswd = path.join(dir, 'htpasswd')
      const lines = Object.entries(opts.users).map(([u, p]) => `${u}:${hashSync(p, BCRYPT_COST)}\n`)
      // Written before start: if the file is missing, distribution invents a random 'docker' user.
      await writeFile(htpasswd, lines.join(''))
    }

    let lastError: Error | undefined
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const port = await freePort()
      const result = await tryStart(dir, root, port, htpasswd, opts)
      if (result.ok) return result.registry
      lastError = result.error
      if (!result.portTaken) break // a real failure: retrying on another port would not help
    }
    throw lastError ?? new Error('docker-registry did not start')
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

type StartResult =
  { ok: true; registry: TestRegistry } | { ok: false; error: Error; portTaken: boolean }

async function tryStart(
  dir: string,
  root: string,
  port: number,
  htpasswd: string | undefined,
  opts: StartRegistryOptions
): Promise<StartResult> {
  const host = `127.0.0.1:${port}`
  // Every response carries this header, so readiness cannot be fooled by another process that
  // grabbed the port between freePort() and the registry's bind.
  const instanceId = randomUUID()
  const configPath = path.join(dir, 'config.yml')
  await writeFile(configPath, registryConfig(root, host, instanceId, htpasswd, opts))

  const child = spawnRegistry(configPath)
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP)
  })
  let exitInfo: string | undefined
  const exited = new Promise<void>((resolve) => {
    // 'close' rather than 'exit': it comes after stderr is fully read, so error messages are complete
    child.once('close', (code, signal) => {
      exitInfo = signal !== null ? `signal ${signal}` : `exit code ${String(code)}`
      resolve()
    })
    // spawn failures (e.g. binary missing) emit 'error' and maybe no 'exit'
    child.once('error', (e) => {
      exitInfo = `spawn error: ${e.message}`
      resolve()
    })
  })
  const entry = { child, dir }
  live.add(entry)

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      live.delete(entry)
      if (exitInfo === undefined) {
        child.kill('SIGKILL') // storage is thrown away, so no need for a graceful shutdown
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    })()
    return stopping
  }

  const deadline = Date.now() + START_TIMEOUT_MS
  while (exitInfo === undefined && Date.now() < deadline) {
    const status = await probe(host, instanceId, opts.tls !== undefined)
    if (status === 200 || status === 401) {
      // Let an unstopped registry not hold the jest worker open; pdeathsig still reaps it.
      child.unref()
      ;(child.stderr as Socket | null)?.unref()
      return { ok: true, registry: { host, root, stop } }
    }
    await Promise.race([sleep(50), exited])
  }

  const why =
    exitInfo !== undefined ? `exited early (${exitInfo})` : `not ready after ${START_TIMEOUT_MS} ms`
  // Kill it but keep the dir: the caller may retry with the same root.
  live.delete(entry)
  if (exitInfo === undefined) {
    child.kill('SIGKILL')
    await exited
  }
  const portTaken = /address already in use/i.test(stderr)
  return {
    ok: false,
    portTaken,
    error: new Error(`docker-registry on ${host} ${why}; stderr:\n${stderr.trim() || '(empty)'}`)
  }
}

function spawnRegistry(configPath: string): ChildProcess {
  const args = ['serve', configPath]
  // stdout gets nothing we need (access log is off); ignoring it also means a full pipe can never
  // block the registry. stderr is drained continuously into a bounded buffer for error messages.
  const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe']
  if (SETPRIV !== undefined) {
    return spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', REGISTRY_BIN, ...args], { stdio })
  }
  return spawn(REGISTRY_BIN, args, { stdio })
}

function registryConfig(
  root: string,
  host: string,
  instanceId: string,
  htpasswd: string | undefined,
  opts: StartRegistryOptions
): string {
  // JSON is valid YAML, and JSON.stringify quotes paths safely.
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: root },
      delete: { enabled: true },
      // default upload purging is a background walk of the storage we do not need
      maintenance: { uploadpurging: { enabled: false } }
    },
    http: {
      addr: host,
      // avoids a startup warning; only matters for registries behind a load-balancer
      secret: instanceId,
      headers: { 'X-Test-Registry-Id': [instanceId] }
    }
  }
  if (htpasswd !== undefined) config.auth = { htpasswd: { realm: 'basic-realm', path: htpasswd } }
  if (opts.token !== undefined) {
    const t = opts.token
    config.auth = {
      token: {
        realm: t.realm,
        service: t.service,
        issuer: t.issuer,
        rootcertbundle: t.rootCertBundle
      }
    }
  }
  if (opts.tls !== undefined)
    (config.http as Record<string, unknown>).tls = {
      certificate: opts.tls.certificate,
      key: opts.tls.key
    }
  return JSON.stringify(config, null, 2) + '\n'
}

/** Status of GET /v2/ if the answer comes from our instance, otherwise undefined. */
function probe(host: string, instanceId: string, secure: boolean): Promise<number | undefined> {
  return new Promise((resolve) => {
    // agent:false: no pooled keep-alive sockets left behind to trip jest's open-handle detection
    const get = secure ? https.get : http.get
    const req = get(
      `${secure ? 'https' : 'http'}://${host}/v2/`,
      { agent: false, timeout: 1000, rejectUnauthorized: false },
      (res) => {
        res.resume()
        resolve(res.headers['x-test-registry-id'] === instanceId ? res.statusCode : undefined)
      }
    )
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(undefined))
  })
}

/** A port that was free a moment ago (bind to 0, read, close). The caller retries if it is taken. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      if (addr === null || typeof addr === 'string') {
        srv.close()
        reject(new Error('could not read port of a loopback listener'))
        return
      }
      srv.close(() => resolve(addr.port))
    })
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** The status a registry gives a HEAD of `path` (a manifest asked for in any of its four types). */
export async function headStatus(host: string, path: string, auth?: string): Promise<number> {
  const res = await fetch(`http://${host}${path}`, {
    method: 'HEAD',
    headers: {
      Accept:
        'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json',
      ...(auth ? { Authorization: auth } : {})
    }
  })
  return res.status
}
