import { readFile } from 'node:fs/promises'
import { InputError } from '../errors/errors.js'
import { findCredentials, nearMissCredentials } from '../registry/credentials.js'
import { RegistryClient } from '../registry/client.js'
import type { RegistryOptions } from './options.js'

/** One client per registry for a run; closes them all. */
export class ClientPool {
  readonly #opts: RegistryOptions
  readonly #clients = new Map<string, Promise<RegistryClient>>()
  #primary?: string

  constructor(opts: RegistryOptions) {
    this.#opts = opts
  }

  get(registry: string): Promise<RegistryClient> {
    this.#primary ??= registry
    let c = this.#clients.get(registry)
    if (!c) {
      c = openClient(this.#opts, registry, registry === this.#primary)
      this.#clients.set(registry, c)
    }
    return c
  }

  /** The rate limits the registries of this run reported. */
  async rateLimits(): Promise<string[]> {
    const clients = await Promise.all(
      [...this.#clients.values()].map((c) => c.catch(() => undefined))
    )
    return clients.flatMap((c) => c?.rateLimitLine() ?? [])
  }

  async close(): Promise<void> {
    for (const c of this.#clients.values()) (await c.catch(() => undefined))?.close()
  }
}

/** Opens a client for one registry, with the credentials found for it. */
export async function openClient(
  opts: RegistryOptions,
  registry: string,
  primary = true
): Promise<RegistryClient> {
  // The credential inputs belong to the registry of `reference`; others use their own sources.
  let credentials = primary ? opts.credentials : undefined
  let hints: { rejectedHint?: string; missingHint?: string } = {}
  if (!credentials) {
    const found = await findCredentials({
      registry,
      username: primary ? opts.username : undefined,
      password: primary ? opts.password : undefined,
      githubToken: opts.githubToken,
      githubActor: opts.githubActor,
      env: opts.env,
      onSecret: opts.onSecret
    })
    if (found) opts.onNotice?.(`Using credentials for ${registry} from ${found.source}`)
    credentials = found?.credentials
    hints = await credentialHints(opts, registry, found?.source)
  }
  if (opts.insecure) opts.onNotice?.(`TLS verification is off for ${registry} (insecure: true)`)
  let ca = opts.ca
  if (opts.caFile) {
    try {
      ca = await readFile(opts.caFile, 'utf8')
    } catch {
      throw new InputError(`ca-file ${opts.caFile} cannot be read`, {
        hint: 'give the path of a PEM file holding the CA certificate(s)'
      })
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new InputError(`ca-file ${opts.caFile} holds no PEM certificate`)
  }
  return new RegistryClient({
    registry,
    plainHttp: opts.plainHttp,
    credentials,
    ...hints,
    onSecret: opts.onSecret,
    onTrace: opts.onTrace,
    ca,
    insecure: opts.insecure,
    // The one retry policy: the client, uploads and downloads of this registry all draw on it.
    retry: opts.retries === undefined ? undefined : { retries: opts.retries },
    chunkSize: opts.chunkSize,
    onRetry: opts.onNotice
  })
}

const INPUTS_SOURCE = 'the username and password inputs'

/** What to tell the user when the registry refuses credentials, or wants some: where they came from. */
async function credentialHints(
  opts: RegistryOptions,
  registry: string,
  source: string | undefined
): Promise<{ rejectedHint: string; missingHint?: string }> {
  const inputs = opts.credentialInputs ?? INPUTS_SOURCE
  if (source)
    return {
      rejectedHint:
        source === INPUTS_SOURCE
          ? `check ${inputs}`
          : `the credentials came from ${source}: log in to ${registry} again there, or set ${inputs}`
    }
  const near = await nearMissCredentials({ registry, env: opts.env })
  return {
    rejectedHint: `check ${inputs}`,
    missingHint: near
      ? `${near.file} holds credentials for ${near.host}, not for ${registry}: name the registry as it was logged in to, or log in to ${registry}`
      : `set ${inputs}, or log in first (docker/login-action)`
  }
}
