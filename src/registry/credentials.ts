import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import * as os from 'node:os'
import * as path from 'node:path'
import { AuthError } from '../errors/errors.js'
import { isDockerHub } from '../oci/reference.js'

/** What a registry is given to prove who we are. */
export type Credentials =
  | { username: string; password: string; identityToken?: undefined }
  /** A refresh token (docker config `identitytoken`, ACR): traded at the token realm by POST. */
  | { identityToken: string; username?: string; password?: undefined }

/** Where credentials came from, for logs (never the secret itself). */
export interface FoundCredentials {
  credentials: Credentials
  source: string
}

export interface CredentialLookup {
  /** The registry host as the user named it. */
  registry: string
  username?: string
  password?: string
  /** For ghcr.io when nothing else is found: the workflow token, with the actor as user. */
  githubToken?: string
  githubActor?: string
  env?: NodeJS.ProcessEnv
  /** Called with each secret found, so it can be masked before anything is logged. */
  onSecret?: (secret: string) => void
}

interface AuthEntry {
  auth?: string
  username?: string
  password?: string
  identitytoken?: string
}

interface ConfigFile {
  auths?: Record<string, AuthEntry>
  credHelpers?: Record<string, string>
  credsStore?: string
}

/** The host a config key names: keys may carry a scheme and a path (`https://index.docker.io/v1/`). */
function keyHost(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, '')
    .split('/')[0]
    .toLowerCase()
}

function hostsMatch(key: string, registry: string): boolean {
  const a = keyHost(key)
  const b = registry.toLowerCase()
  if (a === b) return true
  return isDockerHub(a) && isDockerHub(b)
}

function fromEntry(entry: AuthEntry, where: string): Credentials | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken, username: entry.username }
  if (entry.username && entry.password)
    return { username: entry.username, password: entry.password }
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon <= 0) throw new AuthError(`${where}: the "auth" value is not base64 of user:password`)
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
  }
  return undefined
}

async function readJson(file: string): Promise<ConfigFile | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    return undefined
  }
  try {
    return JSON.parse(text) as ConfigFile
  } catch {
    throw new AuthError(`${file} is not valid JSON`, {
      hint: 'fix or remove it, or pass username and password'
    })
  }
}

/** Runs `docker-credential-<helper> get` with the server URL on stdin, as docker does. */
function runHelper(
  helper: string,
  registry: string,
  env: NodeJS.ProcessEnv
): Promise<Credentials | undefined> {
  const server = isDockerHub(registry) ? 'https://index.docker.io/v1/' : registry
  return new Promise((resolve, reject) => {
    const child = execFile(
      `docker-credential-${helper}`,
      ['get'],
      { env, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) {
          // Helpers answer "credentials not found" for hosts they do not know: that is not an error.
          if (/not found/i.test(`${stdout}${stderr}`)) return resolve(undefined)
          const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
          return reject(
            new AuthError(
              missing
                ? `credential helper docker-credential-${helper} is not on PATH`
                : `credential helper docker-credential-${helper} failed: ${stderr.trim().split('\n')[0] || err.message}`,
              { hint: 'install the helper, or pass username and password' }
            )
          )
        }
        try {
          const out = JSON.parse(stdout) as { Username?: string; Secret?: string }
          if (!out.Secret) return resolve(undefined)
          // Docker's convention: the user "<token>" means the secret is an identity token.
          resolve(
            out.Username === '<token>'
              ? { identityToken: out.Secret }
              : { username: out.Username ?? '', password: out.Secret }
          )
        } catch {
          reject(
            new AuthError(
              `credential helper docker-credential-${helper} answered something other than JSON`
            )
          )
        }
      }
    )
    child.stdin?.end(server)
  })
}

/** Where credentials are stored: docker's config.json first, then podman's auth files. */
function configFiles(env: NodeJS.ProcessEnv): [string, ...string[]] {
  const dockerDir = env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker')
  const podman = [
    env.REGISTRY_AUTH_FILE,
    env.XDG_RUNTIME_DIR && path.join(env.XDG_RUNTIME_DIR, 'containers/auth.json')
  ].filter((f): f is string => Boolean(f))
  return [path.join(dockerDir, 'config.json'), ...podman]
}

/**
 * Finds credentials for a registry, first match wins: the inputs; docker's config.json (where
 * docker/login-action writes) with its credential helpers; podman's auth.json; for ghcr.io the
 * workflow token; else anonymous.
 */
export async function findCredentials(q: CredentialLookup): Promise<FoundCredentials | undefined> {
  const env = q.env ?? process.env
  const found = (credentials: Credentials, source: string): FoundCredentials => {
    const secret = credentials.identityToken ?? credentials.password
    if (secret) q.onSecret?.(secret)
    if (credentials.password !== undefined)
      q.onSecret?.(
        Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')
      )
    return { credentials, source }
  }
  if (q.username && q.password)
    return found({ username: q.username, password: q.password }, 'the username and password inputs')

  const [dockerFile, ...podmanFiles] = configFiles(env)
  const docker = await readJson(dockerFile)
  if (docker) {
    const helper = Object.entries(docker.credHelpers ?? {}).find(([k]) =>
      hostsMatch(k, q.registry)
    )?.[1]
    if (helper) {
      const c = await runHelper(helper, q.registry, env)
      if (c) return found(c, `docker-credential-${helper}`)
    }
    const entry = Object.entries(docker.auths ?? {}).find(([k]) => hostsMatch(k, q.registry))
    if (entry) {
      const c = fromEntry(entry[1], dockerFile)
      if (c) return found(c, dockerFile)
    }
    if (docker.credsStore) {
      const c = await runHelper(docker.credsStore, q.registry, env)
      if (c) return found(c, `docker-credential-${docker.credsStore}`)
    }
  }

  for (const file of podmanFiles) {
    const podman = await readJson(file)
    const entry = Object.entries(podman?.auths ?? {}).find(([k]) => hostsMatch(k, q.registry))
    if (entry) {
      const c = fromEntry(entry[1], file)
      if (c) return found(c, file)
    }
  }

  if (q.registry.toLowerCase() === 'ghcr.io' && q.githubToken) {
    return found(
      { username: q.githubActor || 'github-actions', password: q.githubToken },
      'the github-token input'
    )
  }
  return undefined
}

// `::1` unbracketed cannot carry a port, so a host part is never that.
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]'])

/** `localhost:5000` and `127.0.0.1:5000` name one registry to a user, two to a credential store. */
function nearMiss(key: string, registry: string): boolean {
  const a = keyHost(key)
  const b = registry.toLowerCase()
  if (a === b) return false
  const split = (h: string): [string, string] => {
    const m = /^(.*?)(?::(\d+))?$/.exec(h) as RegExpExecArray
    return [m[1], m[2] ?? '']
  }
  const [ha, pa] = split(a)
  const [hb, pb] = split(b)
  if (ha === hb) return true // the same host on another port, or without one
  return pa === pb && LOOPBACK_NAMES.has(ha) && LOOPBACK_NAMES.has(hb)
}

/**
 * When no credentials were found: a host the stored credentials name that the user may have
 * meant (`127.0.0.1:5102` for `localhost:5102`, another port of the host), with its file.
 */
export async function nearMissCredentials(
  q: Pick<CredentialLookup, 'registry' | 'env'>
): Promise<{ host: string; file: string } | undefined> {
  for (const file of configFiles(q.env ?? process.env)) {
    const config = await readJson(file).catch(() => undefined)
    const keys = [...Object.keys(config?.auths ?? {}), ...Object.keys(config?.credHelpers ?? {})]
    const key = keys.find((k) => nearMiss(k, q.registry))
    if (key) return { host: keyHost(key), file }
  }
  return undefined
}
