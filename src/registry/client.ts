import { ConnectionError, RegistryError } from '../errors/errors.js'
import { apiHost, isLoopbackHost } from '../oci/reference.js'
import {
  drain,
  header,
  readBodyStart,
  HttpTransport,
  type HttpResponse,
  type PumpBody,
  type TransportOptions
} from '../transport/http.js'
import {
  DEFAULT_RETRY,
  isRetryableStatus,
  isTransient,
  Tries,
  type RetryPolicy
} from '../transport/retry.js'
import { Authenticator, type SecretSink } from './auth.js'
import type { Credentials } from './credentials.js'
import { parseErrorBody } from './error-body.js'
import type { UploadLimits } from './upload-limits.js'

export type PlainHttp = 'auto' | 'true' | 'false'

export interface RegistryClientOptions extends TransportOptions {
  /** `host[:port]` as the user wrote it. */
  registry: string
  plainHttp?: PlainHttp
  credentials?: Credentials
  onSecret?: SecretSink
  /** Hints for refused or missing credentials (see AuthOptions). */
  rejectedHint?: string
  missingHint?: string
  /** Trace of each HTTP exchange (method, URL without query, status, ms), for debug logs. */
  onTrace?: (line: string) => void
  /** Told of each retry, for logs. */
  onRetry?: (line: string) => void
  retry?: Partial<RetryPolicy>
  chunkSize?: number
}

/**
 * By default every blob goes up in one PUT, as oras and crane do: it is the one form every
 * registry takes (GHCR refuses PATCHes over 4 MiB, ECR parts under 5 MiB). A registry that refuses
 * a large PUT (413) gets chunks from then on (see UploadLimits).
 */
const DEFAULT_CHUNK_SIZE = 0

export interface RegistryRequest {
  method: string
  /** Absolute URL, or a path below the registry's origin. */
  url: string | URL
  headers?: Record<string, string>
  /** A pumped body is pumped afresh for each send, so the request can go again after an auth challenge. */
  body?: Buffer | PumpBody
  /** The token scope the request needs, e.g. `repository:org/app:pull,push`. */
  scope: string
  /** Follow 3xx answers (GET/HEAD). Credentials go only to the registry's own origin. */
  followRedirects?: boolean
  /** The client may send it again by itself (default: GET and HEAD). Not for blob uploads, whose session a half-sent body spoils. */
  retry?: boolean
  /** A GET of a large body the caller reads in slabs (HttpResponse.chunks): see HttpTransport.sendForChunks. */
  chunks?: boolean
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const MAX_REDIRECTS = 10

/** One registry: its origin, connection pool and authentication state. */
export class RegistryClient {
  readonly registry: string
  readonly origin: string
  readonly auth: Authenticator
  readonly #transport: HttpTransport
  readonly #trace?: (line: string) => void
  #ping?: Promise<void>
  readonly #retry: RetryPolicy
  /** Blobs above this size are uploaded in chunks of it (0: never, unless the registry insists). */
  readonly chunkSize: number
  readonly #onRetry?: (line: string) => void
  #connected = false
  /** Upload limits this host has shown during the run, for every repository on it. */
  readonly uploadLimits: UploadLimits = {}
  /** Per repository, blobs this run has seen it hold (found, sent or mounted): asked about once. */
  readonly #held = new Map<string, Set<string>>()
  /** The last `RateLimit-*` headers the registry sent (Docker Hub: pulls left in its window). */
  #rateLimit?: { limit?: string; remaining: string }

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry
    const host = apiHost(opts.registry)
    const plain =
      opts.plainHttp === 'true' || ((opts.plainHttp ?? 'auto') === 'auto' && isLoopbackHost(host))
    this.origin = `${plain ? 'http' : 'https'}://${host}`
    this.#transport = new HttpTransport(opts)
    this.#trace = opts.onTrace
    this.#onRetry = opts.onRetry
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry }
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE
    this.auth = new Authenticator(this.#transport, host, opts.credentials, {
      onSecret: opts.onSecret,
      rejectedHint: opts.rejectedHint,
      missingHint: opts.missingHint,
      allowPlainHttp: opts.plainHttp === 'true'
    })
  }

  /** Fresh tries of one piece of work under this registry's policy, told to the retry log. */
  tries(): Tries {
    return new Tries(this.#retry, this.#onRetry)
  }

  /** Tells the retry log (an upload that changes its chunk size). */
  noteRetry(line: string): void {
    this.#onRetry?.(line)
  }

  close(): void {
    this.#transport.close()
  }

  /** The blobs this run has seen `repository` hold; a copy to it later in the run asks no more. */
  held(repository: string): Set<string> {
    let set = this.#held.get(repository)
    if (!set) this.#held.set(repository, (set = new Set()))
    return set
  }

  /** "docker.io: 97 of 100 pulls left in 21600 s", when the registry reported its rate limit. */
  rateLimitLine(): string | undefined {
    const rl = this.#rateLimit
    if (!rl) return undefined
    const count = (v: string): string => v.split(';')[0].trim()
    const window = /;\s*w=(\d+)/.exec(rl.remaining)?.[1] ?? /;\s*w=(\d+)/.exec(rl.limit ?? '')?.[1]
    const of = rl.limit ? ` of ${count(rl.limit)}` : ''
    return `${this.registry} rate limit: ${count(rl.remaining)}${of} pulls left${window ? ` in ${window} s` : ''}`
  }

  /**
   * Sends a request: authorised (answering 401 challenges), following redirects when asked, and
   * retried on throttling, server faults and network faults when the request may be resent.
   */
  async request(req: RegistryRequest): Promise<HttpResponse> {
    const url = typeof req.url === 'string' ? new URL(req.url, this.origin) : req.url
    // Only a request that can go again unchanged is retried here; the upload retries its own.
    const resend = req.retry ?? (req.method === 'GET' || req.method === 'HEAD')
    const tries = this.tries()
    for (;;) {
      let res: HttpResponse
      try {
        res = await this.#authorised(req, url)
        this.#connected = true
      } catch (err) {
        if (!resend || !isTransient(err)) throw err
        // A refused first connection is retried too, briefly: a registry service container may
        // still be starting. The policy's backoff bounds it (about 3 to 6 s by default).
        const cause = err instanceof ConnectionError ? err.cause : err
        const starting =
          !this.#connected && (cause as NodeJS.ErrnoException).code === 'ECONNREFUSED'
            ? ' (the registry may still be starting)'
            : ''
        const line = `${req.method} ${url.pathname}: ${(err as Error).message}; retrying${starting}`
        if (await tries.again(line)) continue
        throw err
      }
      if (resend && isRetryableStatus(res.status) && tries.canRetry) {
        await drain(res)
        const line = `${req.method} ${url.pathname}: HTTP ${res.status}; retrying`
        await tries.again(line, header(res, 'retry-after'))
        continue
      }
      return res
    }
  }

  async #authorised(req: RegistryRequest, url: URL): Promise<HttpResponse> {
    const own = url.origin === this.origin
    // Learn the auth scheme once, up front, so requests (and stream bodies) go out authorised.
    if (own && !this.auth.knowsChallenge)
      await (this.#ping ??= this.#pingOnce().catch((err: unknown) => {
        this.#ping = undefined // a failed ping is asked again by the next try
        throw err
      }))
    for (let attempt = 0; ; attempt++) {
      const authorization = own ? await this.auth.header(req.scope) : undefined
      const res = await this.#send(req, url, authorization)
      const retry = res.status === 401 && attempt < 2 && own
      if (retry && this.auth.learn(res, req.scope, authorization, attempt === 0)) {
        await drain(res)
        continue
      }
      if (!req.followRedirects || !REDIRECTS.has(res.status)) return res
      return this.#follow(req, res)
    }
  }

  async #pingOnce(): Promise<void> {
    const url = new URL('/v2/', this.origin)
    const res = await this.#send({ method: 'GET', url, scope: '' }, url, undefined)
    if (res.status === 401) this.auth.learn(res, '', undefined)
    await drain(res)
  }

  async #follow(req: RegistryRequest, first: HttpResponse): Promise<HttpResponse> {
    let res = first
    for (let hop = 0; REDIRECTS.has(res.status); hop++) {
      const location = header(res, 'location')
      await drain(res)
      if (!location || hop >= MAX_REDIRECTS) {
        throw new RegistryError(req.method, res.url.origin + res.url.pathname, res.status, [], {
          message: `${req.method} ${res.url.origin + res.url.pathname}: ${location ? 'too many redirects' : 'redirect without a Location'}`
        })
      }
      // Relative Locations resolve against the URL that answered.
      const next = new URL(location, res.url)
      if (res.url.protocol === 'https:' && next.protocol !== 'https:') {
        throw new RegistryError(req.method, res.url.href, res.status, [], {
          message: `${req.method} ${res.url.origin}: refusing a redirect from HTTPS to ${next.protocol}`
        })
      }
      const authorization =
        next.origin === this.origin ? await this.auth.header(req.scope) : undefined
      res = await this.#send(req, next, authorization)
    }
    return res
  }

  async #send(
    req: RegistryRequest,
    url: URL,
    authorization: string | undefined
  ): Promise<HttpResponse> {
    const headers = { ...req.headers }
    if (authorization) headers.Authorization = authorization
    const started = Date.now()
    const out = { method: req.method, url, headers, body: req.body }
    const res = await (req.chunks ? this.#transport.sendForChunks(out) : this.#transport.send(out))
    const remaining = header(res, 'ratelimit-remaining')
    if (remaining) this.#rateLimit = { remaining, limit: header(res, 'ratelimit-limit') }
    this.#trace?.(
      `${req.method} ${url.origin}${url.pathname} ${res.status} ${Date.now() - started}ms`
    )
    return res
  }

  /** Turns an unexpected answer into a typed error carrying the registry's codes. */
  async fail(res: HttpResponse, method: string, action: string): Promise<never> {
    const body = await readBodyStart(res, 64 * 1024)
    if (res.status === 401 || res.status === 403) {
      const repo = /^\/v2\/(.+?)\/(?:blobs|manifests|tags|referrers)\//.exec(res.url.pathname)?.[1]
      const verb = method === 'GET' || method === 'HEAD' ? 'pull from' : 'push to'
      throw this.auth.refused(res, body, `${verb} ${repo ?? this.registry}`)
    }
    const errors = parseErrorBody(body)
    const pushing = method !== 'GET' && method !== 'HEAD'
    const noRepo = pushing && errors.some((e) => e.code === 'NAME_UNKNOWN')
    throw new RegistryError(method, res.url.origin + res.url.pathname, res.status, errors, {
      // ECR (and registries set up like it) create no repository on push.
      hint: noRepo
        ? 'the repository does not exist and this registry does not create it on push: create it first (on ECR: aws ecr create-repository --repository-name NAME)'
        : undefined,
      message: `${this.registry}: ${action} failed: ${errors.length ? errors.map((e) => `${e.code}: ${e.message}`).join('; ') : `HTTP ${res.status}`}`,
      retryable: isRetryableStatus(res.status),
      retryAfter: header(res, 'retry-after')
    })
  }
}
