import { AuthError, RegistryError } from '../content/errors.js'
import { isLoopbackHost } from '../oci/reference.js'
import { drain, readBody, type HttpResponse, type HttpTransport } from '../transport/http.js'
import { parseChallenge, type Challenge } from './challenge.js'
import { parseErrorBody } from './errors.js'

export interface Credentials {
  username: string
  password: string
}

interface CachedToken {
  token: string
  expiresAt: number
}

/** Called with every secret learned at run time (tokens), so the adapter can mask it in logs. */
export type SecretSink = (secret: string) => void

/**
 * Answers a registry's 401 challenges: Basic sends the credentials, Bearer trades them (or
 * nothing, for anonymous pulls) at the token realm for a token per scope, cached until it expires.
 */
export class Authenticator {
  readonly #transport: HttpTransport
  readonly #host: string
  readonly #creds?: Credentials
  readonly #onSecret: SecretSink
  #challenge?: Challenge
  readonly #tokens = new Map<string, CachedToken>()
  readonly #pending = new Map<string, Promise<CachedToken>>()

  constructor(
    transport: HttpTransport,
    host: string,
    creds: Credentials | undefined,
    onSecret: SecretSink = () => {}
  ) {
    this.#transport = transport
    this.#host = host
    this.#creds = creds
    this.#onSecret = onSecret
  }

  get hasCredentials(): boolean {
    return this.#creds !== undefined
  }

  get username(): string | undefined {
    return this.#creds?.username
  }

  /** The Authorization header for a request needing `scope`, or undefined when none is known yet. */
  async header(scope: string): Promise<string | undefined> {
    const ch = this.#challenge
    if (!ch) return undefined
    if (ch.scheme === 'basic') {
      if (!this.#creds) return undefined
      return `Basic ${Buffer.from(`${this.#creds.username}:${this.#creds.password}`).toString('base64')}`
    }
    if (ch.scheme === 'bearer') {
      const cached = this.#tokens.get(scope)
      if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`
      let pending = this.#pending.get(scope)
      if (!pending) {
        pending = this.#fetchToken(ch, scope).finally(() => this.#pending.delete(scope))
        this.#pending.set(scope, pending)
      }
      const token = await pending
      this.#tokens.set(scope, token)
      return `Bearer ${token.token}`
    }
    return undefined
  }

  /**
   * Learns from a 401. Returns true when asking again may succeed (a new scheme or an expired
   * token), false when the same request was already authorised and refused.
   */
  learn(res: HttpResponse, scope: string, sentAuthorization: boolean): boolean {
    const ch = parseChallenge(
      Array.isArray(res.headers['www-authenticate'])
        ? res.headers['www-authenticate'][0]
        : res.headers['www-authenticate']
    )
    if (!ch) return false
    const changed =
      !this.#challenge ||
      this.#challenge.scheme !== ch.scheme ||
      this.#challenge.params.realm !== ch.params.realm
    this.#challenge = ch
    if (changed) return true
    if (ch.scheme === 'bearer' && this.#tokens.has(scope)) {
      // A token that was good may have expired mid-run: fetch a fresh one once.
      this.#tokens.delete(scope)
      return sentAuthorization
    }
    return !sentAuthorization
  }

  async #fetchToken(ch: Challenge, scope: string): Promise<CachedToken> {
    const realm = ch.params.realm
    let url: URL
    try {
      url = new URL(realm ?? '')
    } catch {
      throw new AuthError(
        `registry ${this.#host} sent a bearer challenge without a usable realm (${realm ?? 'none'})`
      )
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new AuthError(`registry ${this.#host}: token realm ${url.href} is not http(s)`)
    if (ch.params.service) url.searchParams.set('service', ch.params.service)
    url.searchParams.set('scope', scope)
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (this.#creds) {
      if (url.protocol === 'http:' && !isLoopbackHost(url.host)) {
        throw new AuthError(`refusing to send credentials to ${url.origin} over plain HTTP`, {
          hint: 'use an https token realm'
        })
      }
      headers.Authorization = `Basic ${Buffer.from(`${this.#creds.username}:${this.#creds.password}`).toString('base64')}`
    }
    const res = await this.#transport.send({ method: 'GET', url, headers })
    if (res.status !== 200) {
      const body = await readBody(res, 64 * 1024)
      const errors = parseErrorBody(body)
      if (res.status === 401 || res.status === 403) {
        throw new AuthError(
          this.#refusal(errors.map((e) => e.message).join('; ') || `HTTP ${res.status}`)
        )
      }
      throw new RegistryError('GET', url.origin + url.pathname, res.status, errors, {
        hint: 'the token service failed'
      })
    }
    const body = await readBody(res, 1024 * 1024)
    let json: { token?: unknown; access_token?: unknown; expires_in?: unknown }
    try {
      json = JSON.parse(body.toString('utf8')) as typeof json
    } catch {
      throw new AuthError(`token service ${url.origin} answered with something other than JSON`)
    }
    const token =
      typeof json.token === 'string' && json.token
        ? json.token
        : typeof json.access_token === 'string'
          ? json.access_token
          : ''
    if (!token) throw new AuthError(`token service ${url.origin} answered without a token`)
    this.#onSecret(token)
    // Expire 30 s early so a token is never used at the edge of its life; 60 s is the spec default.
    const lifetime =
      typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60
    return { token, expiresAt: Date.now() + Math.max(lifetime - 30, 10) * 1000 }
  }

  #refusal(detail: string): string {
    return this.#creds
      ? `registry ${this.#host} rejected the credentials of user "${this.#creds.username}" (${detail})`
      : `registry ${this.#host} requires authentication (${detail})`
  }

  /** The error for a request refused after authorising. */
  refused(res: HttpResponse, body: Buffer, action: string): AuthError {
    const errors = parseErrorBody(body)
    const detail = errors.map((e) => `${e.code}: ${e.message}`).join('; ') || `HTTP ${res.status}`
    if (res.status === 403 || errors.some((e) => e.code === 'DENIED')) {
      return new AuthError(`registry ${this.#host} denied ${action} (${detail})`, {
        hint: this.#creds
          ? `user "${this.#creds.username}" lacks permission for it${this.#host === 'ghcr.io' ? '; in a workflow add `permissions: packages: write`' : ''}`
          : 'set the username and password inputs'
      })
    }
    return new AuthError(this.#refusal(detail), {
      hint: this.#creds
        ? 'check the username and password inputs'
        : 'set the username and password inputs'
    })
  }

  async discard(res: HttpResponse): Promise<void> {
    await drain(res)
  }
}
