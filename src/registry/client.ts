import type { Readable } from 'node:stream'
import { RegistryError } from '../content/errors.js'
import { apiHost, isLoopbackHost } from '../oci/reference.js'
import {
  drain,
  header,
  readBody,
  HttpTransport,
  type HttpResponse,
  type TransportOptions
} from '../transport/http.js'
import { Authenticator, type Credentials, type SecretSink } from './auth.js'
import { parseErrorBody } from './errors.js'

export type PlainHttp = 'auto' | 'true' | 'false'

export interface RegistryClientOptions extends TransportOptions {
  /** `host[:port]` as the user wrote it. */
  registry: string
  plainHttp?: PlainHttp
  credentials?: Credentials
  onSecret?: SecretSink
  /** Trace of each HTTP exchange (method, URL without query, status, ms), for debug logs. */
  onTrace?: (line: string) => void
}

export interface RegistryRequest {
  method: string
  /** Absolute URL, or a path below the registry's origin. */
  url: string | URL
  headers?: Record<string, string>
  /** A function for stream bodies, so the request can be sent again after an auth challenge. */
  body?: Buffer | (() => Promise<Readable>)
  /** The token scope the request needs, e.g. `repository:org/app:pull,push`. */
  scope: string
  /** Follow 3xx answers (GET/HEAD). Credentials go only to the registry's own origin. */
  followRedirects?: boolean
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

  constructor(opts: RegistryClientOptions) {
    this.registry = opts.registry
    const host = apiHost(opts.registry)
    const plain =
      opts.plainHttp === 'true' || ((opts.plainHttp ?? 'auto') === 'auto' && isLoopbackHost(host))
    this.origin = `${plain ? 'http' : 'https'}://${host}`
    this.#transport = new HttpTransport(opts)
    this.#trace = opts.onTrace
    this.auth = new Authenticator(this.#transport, host, opts.credentials, opts.onSecret)
  }

  close(): void {
    this.#transport.close()
  }

  async request(req: RegistryRequest): Promise<HttpResponse> {
    const url = typeof req.url === 'string' ? new URL(req.url, this.origin) : req.url
    for (let attempt = 0; ; attempt++) {
      const authorization =
        url.origin === this.origin ? await this.auth.header(req.scope) : undefined
      const res = await this.#send(req, url, authorization)
      if (
        res.status === 401 &&
        attempt < 2 &&
        url.origin === this.origin &&
        this.auth.learn(res, req.scope, authorization !== undefined)
      ) {
        await drain(res)
        continue
      }
      if (!req.followRedirects || !REDIRECTS.has(res.status)) return res
      return this.#follow(req, res)
    }
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
    const body = typeof req.body === 'function' ? await req.body() : req.body
    const started = Date.now()
    const res = await this.#transport.send({ method: req.method, url, headers, body })
    this.#trace?.(
      `${req.method} ${url.origin}${url.pathname} ${res.status} ${Date.now() - started}ms`
    )
    return res
  }

  /** Turns an unexpected answer into a typed error carrying the registry's codes. */
  async fail(res: HttpResponse, method: string, action: string): Promise<never> {
    const body = await readBody(res, 64 * 1024)
    if (res.status === 401 || res.status === 403) throw this.auth.refused(res, body, action)
    const errors = parseErrorBody(body)
    throw new RegistryError(method, res.url.origin + res.url.pathname, res.status, errors, {
      message: `${this.registry}: ${action} failed: ${errors.length ? errors.map((e) => `${e.code}: ${e.message}`).join('; ') : `HTTP ${res.status}`}`
    })
  }
}
