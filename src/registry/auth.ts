import { AuthError, RegistryError } from '../errors/errors.js'
import { isLoopbackHost } from '../oci/reference.js'
import { readBodyStart, type HttpResponse, type HttpTransport } from '../transport/http.js'
import { parseChallenge, type Challenge } from './challenge.js'
import type { Credentials } from './credentials.js'
import { parseErrorBody } from './error-body.js'

export type { Credentials } from './credentials.js'

interface CachedToken {
  token: string
  expiresAt: number
}

/** Parses `repository:name:pull,push repository:other:pull` into resource → actions. */
function parseScopes(scope: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const s of scope.split(' ').filter(Boolean)) {
    const i = s.lastIndexOf(':')
    const resource = s.slice(0, i)
    const actions = out.get(resource) ?? new Set<string>()
    for (const a of s.slice(i + 1).split(',')) actions.add(a)
    out.set(resource, actions)
  }
  return out
}

/** Whether a token for `have` also serves `want`. */
export function scopeCovers(have: string, want: string): boolean {
  const h = parseScopes(have)
  for (const [resource, actions] of parseScopes(want)) {
    const got = h.get(resource)
    if (!got || [...actions].some((a) => !got.has(a) && !got.has('*'))) return false
  }
  return true
}

/** Called with every secret learned at run time (tokens), so the adapter can mask it in logs. */
export type SecretSink = (secret: string) => void

export interface AuthOptions {
  onSecret?: SecretSink
  /** What to do when the registry refuses the credentials (names where they came from). */
  rejectedHint?: string
  /** What to do when it asks for credentials and none were found (names a near-miss host). */
  missingHint?: string
  /** Plain HTTP was asked for explicitly: credentials may then go to a plain-HTTP token realm. */
  allowPlainHttp?: boolean
}

const basic = (user: string, secret: string): string =>
  `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`

function challengeOf(res: HttpResponse): Challenge | undefined {
  const h = res.headers['www-authenticate']
  return parseChallenge(Array.isArray(h) ? h[0] : h)
}

/**
 * Answers a registry's 401 challenges: Basic sends the credentials; Bearer trades them (or
 * nothing, for anonymous access; or an identity token, by the refresh-token POST) at the token
 * realm for a token per scope, cached until shortly before it expires.
 */
export class Authenticator {
  readonly #transport: HttpTransport
  readonly #host: string
  readonly #creds?: Credentials
  readonly #opts: AuthOptions
  #challenge?: Challenge
  readonly #tokens = new Map<string, CachedToken>()
  readonly #pending = new Map<string, Promise<CachedToken>>()
  /** Scopes a registry asked for beyond ours (its challenge names them), by our scope. */
  readonly #wider = new Map<string, string>()

  constructor(
    transport: HttpTransport,
    host: string,
    creds: Credentials | undefined,
    opts: AuthOptions = {}
  ) {
    this.#transport = transport
    this.#host = host
    this.#creds = creds
    this.#opts = opts
  }

  get username(): string | undefined {
    return this.#creds?.username
  }

  /** The Authorization header for a request needing `scope`, or undefined when none is known yet. */
  async header(scope: string): Promise<string | undefined> {
    const ch = this.#challenge
    if (!ch) return undefined
    if (ch.scheme === 'basic' && this.#creds) {
      const c = this.#creds
      return c.password !== undefined
        ? basic(c.username, c.password)
        : basic(c.username ?? '<token>', c.identityToken)
    }
    if (ch.scheme !== 'bearer') return undefined
    const effective = this.#wider.get(scope) ?? scope
    const cached = this.#tokens.get(effective)
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`
    let pending = this.#pending.get(effective)
    if (!pending) {
      pending = this.#fetchToken(ch, effective).finally(() => this.#pending.delete(effective))
      this.#pending.set(effective, pending)
    }
    const token = await pending
    this.#tokens.set(effective, token)
    return `Bearer ${token.token}`
  }

  /** Whether a challenge is known yet (else the client pings /v2/ first). */
  get knowsChallenge(): boolean {
    return this.#challenge !== undefined
  }

  /**
   * Learns from a 401. Returns true when asking again may succeed: a first challenge, a wider
   * scope, a token refreshed meanwhile, or a token that expired mid-run (fetched afresh once);
   * false when the request was already authorised and refused. `firstTry`: the refused request
   * had not asked again yet, so a token another request dropped meanwhile (refused at the same
   * time) is fetched afresh for it too.
   */
  learn(res: HttpResponse, scope: string, sent: string | undefined, firstTry = false): boolean {
    const ch = challengeOf(res)
    if (!ch) return false
    const changed =
      !this.#challenge ||
      this.#challenge.scheme !== ch.scheme ||
      this.#challenge.params.realm !== ch.params.realm
    this.#challenge = ch
    if (changed) return true
    if (ch.scheme !== 'bearer') return sent === undefined
    const effective = this.#wider.get(scope) ?? scope
    const asked = ch.params.scope
    if (asked && !scopeCovers(effective, asked)) {
      this.#wider.set(scope, `${effective} ${asked}`)
      return true
    }
    if (sent === undefined) return true
    const cached = this.#tokens.get(effective)
    if (!cached) return firstTry
    if (`Bearer ${cached.token}` !== sent) return true
    // Expired or revoked early: ask for a fresh token once.
    this.#tokens.delete(effective)
    return true
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
    if (
      this.#creds &&
      url.protocol === 'http:' &&
      !isLoopbackHost(url.host) &&
      !this.#opts.allowPlainHttp
    ) {
      throw new AuthError(
        `refusing to send credentials to token service ${url.origin} over plain HTTP`,
        {
          hint: 'the registry should use an https token realm; set plain-http: true only if you accept sending them in clear'
        }
      )
    }
    const scopes = scope.split(' ').filter(Boolean)
    const service = ch.params.service
    let res: HttpResponse
    if (this.#creds?.identityToken !== undefined) {
      res = await this.#refreshTokenPost(url, service, scopes, this.#creds.identityToken)
    } else {
      res = await this.#tokenGet(
        url,
        service,
        scopes,
        this.#creds ? basic(this.#creds.username, this.#creds.password) : undefined
      )
    }
    if (res.status !== 200) {
      const errors = parseErrorBody(await readBodyStart(res, 64 * 1024))
      if (res.status === 401 || res.status === 403) {
        throw new AuthError(
          this.#refusal(errors.map((e) => e.message || e.code).join('; ') || `HTTP ${res.status}`),
          {
            hint: this.#creds ? this.#rejectedHint : this.#missingHint
          }
        )
      }
      throw new RegistryError('GET', url.origin + url.pathname, res.status, errors, {
        message: `token service ${url.origin} failed with HTTP ${res.status}`
      })
    }
    let json: {
      token?: unknown
      access_token?: unknown
      expires_in?: unknown
      refresh_token?: unknown
    }
    try {
      json = JSON.parse((await readBodyStart(res, 1024 * 1024)).toString('utf8')) as typeof json
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
    this.#opts.onSecret?.(token)
    if (typeof json.refresh_token === 'string') this.#opts.onSecret?.(json.refresh_token)
    // Renew ahead of expiry (by half the lifetime, at most 30 s); 60 s is the spec's default lifetime.
    const lifetime =
      (typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60) * 1000
    return { token, expiresAt: Date.now() + lifetime - Math.min(30_000, lifetime / 2) }
  }

  #tokenGet(
    realm: URL,
    service: string | undefined,
    scopes: string[],
    authorization?: string
  ): Promise<HttpResponse> {
    const url = new URL(realm)
    if (service) url.searchParams.set('service', service)
    for (const s of scopes) url.searchParams.append('scope', s)
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (authorization) headers.Authorization = authorization
    return this.#transport.send({ method: 'GET', url, headers })
  }

  /** The OAuth2 refresh-token grant; registries without it answer 404, then GET is used. */
  async #refreshTokenPost(
    realm: URL,
    service: string | undefined,
    scopes: string[],
    refreshToken: string
  ): Promise<HttpResponse> {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'oci-layout-action'
    })
    if (service) form.set('service', service)
    if (scopes.length) form.set('scope', scopes.join(' '))
    const res = await this.#transport.send({
      method: 'POST',
      url: realm,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: Buffer.from(form.toString())
    })
    if (res.status !== 404) return res
    await readBodyStart(res, 64 * 1024)
    return this.#tokenGet(
      realm,
      service,
      scopes,
      basic(this.#creds?.username ?? '<token>', refreshToken)
    )
  }

  get #rejectedHint(): string {
    return this.#opts.rejectedHint ?? 'check the username and password inputs'
  }

  get #missingHint(): string {
    return (
      this.#opts.missingHint ??
      'set the username and password inputs, or log in first (docker/login-action)'
    )
  }

  #refusal(detail: string): string {
    return this.#creds
      ? `registry ${this.#host} rejected the credentials${this.#creds.username ? ` of user "${this.#creds.username}"` : ''} (${detail})`
      : `registry ${this.#host} requires authentication (${detail})`
  }

  /** The error for a request refused after authorising; `access` is e.g. `push to org/app`. */
  refused(res: HttpResponse, body: Buffer, access: string): AuthError {
    const errors = parseErrorBody(body)
    const ch = challengeOf(res)
    const scopeError = ch?.params.error === 'insufficient_scope'
    const detail = scopeError
      ? 'insufficient_scope'
      : errors.map((e) => `${e.code}: ${e.message}`).join('; ') || `HTTP ${res.status}`
    const denied = res.status === 403 || scopeError || errors.some((e) => e.code === 'DENIED')
    if (!denied) {
      return new AuthError(this.#refusal(detail), {
        hint: this.#creds ? this.#rejectedHint : this.#missingHint
      })
    }
    const who = this.#creds ? `user "${this.#creds.username ?? '<token>'}"` : 'anonymous access'
    const permission =
      this.#host === 'ghcr.io' ? '; in a workflow add `permissions: packages: write`' : ''
    return new AuthError(`registry ${this.#host}: ${who} may not ${access} (${detail})`, {
      hint: this.#creds ? `grant the user that permission${permission}` : this.#missingHint
    })
  }
}
