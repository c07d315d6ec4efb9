import * as http from 'node:http'
import * as https from 'node:https'
import type { Readable } from 'node:stream'
import * as tls from 'node:tls'
import { getProxyUrl, HttpClient } from '@actions/http-client'
import type { ChunkSink, ChunkSource } from '../content/blob-cursor.js'
import { ConnectionError } from '../errors/errors.js'
import { NotRawError } from './http-head.js'
import { RawGetter } from './raw-get.js'
import { isNetworkError } from './retry.js'

/**
 * A body its producer sends in chunks it lends to the request (see ChunkSink), from the start
 * each time it is pumped. The caller sets Content-Length.
 */
export interface PumpBody {
  pump(sink: ChunkSink): Promise<void>
}

export interface HttpRequest {
  method: string
  url: URL
  headers?: Record<string, string>
  body?: Buffer | PumpBody
}

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  /** The body stream; consume it (readBodyStart) or drain it. */
  body: Readable
  /** The body in slabs, when it was read straight off the socket (see sendForChunks); then use this, not `body`. */
  chunks?: ChunkSource
  url: URL
}

export interface TransportOptions {
  userAgent?: string
  /** PEM bundle trusted in addition to the default CAs. */
  ca?: string
  /** Skip TLS verification (explicit opt-in only). */
  insecure?: boolean
  /** Socket idle timeout in ms. */
  timeoutMs?: number
  /**
   * Read blob downloads straight off the socket (raw-get.ts). Default: on, unless the environment
   * sets OCI_LAYOUT_RAW_GET=0, the way out in the field should a server's answers trip it.
   */
  rawGet?: boolean
}

/** Whether the environment turned the slab-landing GET off. */
export function rawGetDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OCI_LAYOUT_RAW_GET === '0' || env.OCI_LAYOUT_RAW_GET === 'false'
}

/**
 * The base transport. @actions/http-client supplies the connection agent (keep-alive, proxy
 * settings from the environment); requests are sent with node's http directly because the
 * client's own request loop re-sends credentials on redirects, cannot resend a stream body and
 * cannot abort an upload whose source failed mid-way, all of which a registry client needs.
 */
export class HttpTransport {
  readonly #client: HttpClient
  readonly #opts: TransportOptions
  readonly #raw?: RawGetter

  constructor(opts: TransportOptions = {}) {
    this.#opts = opts
    if (opts.rawGet ?? !rawGetDisabled()) {
      this.#raw = new RawGetter({
        ca: opts.ca,
        insecure: opts.insecure,
        timeoutMs: opts.timeoutMs ?? 120_000
      })
    }
    this.#client = new HttpClient(opts.userAgent ?? 'oci-layout-action', [], {
      keepAlive: true,
      allowRedirects: false,
      allowRetries: false,
      ignoreSslError: opts.insecure === true,
      maxSockets: 64
    })
  }

  #headers(req: HttpRequest): Record<string, string> {
    return { 'User-Agent': this.#client.userAgent ?? 'oci-layout-action', ...req.headers }
  }

  /**
   * A GET whose body the caller wants in slabs (a blob download): read straight off the socket
   * when no proxy is in the way and the answer is framed by Content-Length, else through
   * node:http like any other request.
   */
  async sendForChunks(req: HttpRequest): Promise<HttpResponse> {
    const { url } = req
    if (this.#raw && req.method === 'GET' && !req.body && !getProxyUrl(url.href)) {
      try {
        const res = await this.#raw.get(url, this.#headers(req))
        return {
          status: res.status,
          headers: res.headers,
          get body() {
            return res.chunks.stream
          },
          chunks: res.chunks,
          url
        }
      } catch (err) {
        if (!(err instanceof NotRawError)) throw asConnectionError(err as Error, url)
      }
    }
    return this.send(req)
  }

  send(req: HttpRequest): Promise<HttpResponse> {
    const { url } = req
    const mod = url.protocol === 'https:' ? https : http
    const headers = this.#headers(req)
    if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length)
    const options: https.RequestOptions = {
      method: req.method,
      headers,
      agent: this.#client.getAgent(url.href)
    }
    if (url.protocol === 'https:') {
      // Added to the default trust, not instead of it.
      if (this.#opts.ca) options.ca = [...tls.rootCertificates, this.#opts.ca]
      if (this.#opts.insecure) options.rejectUnauthorized = false
    }
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false
      // The registry answered before the whole body went out (401, 413): stop sending.
      let answeredEarly = false
      let bodySent = false
      const fail = (err: Error): void => {
        if (settled) return
        settled = true
        reject(asConnectionError(err, url))
      }
      const body = req.body
      const r = mod.request(url, options, (res) => {
        if (settled) {
          res.resume()
          return
        }
        settled = true
        if (body && !Buffer.isBuffer(body) && !bodySent) {
          answeredEarly = true
          // The request never finished: its connection cannot be reused.
          res.once('end', () => r.destroy())
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url })
      })
      r.setTimeout(this.#opts.timeoutMs ?? 120_000, () =>
        r.destroy(
          new ConnectionError(
            `${req.method} ${url.host}: no answer for ${Math.round((this.#opts.timeoutMs ?? 120_000) / 1000)} s`
          )
        )
      )
      r.on('error', fail)
      if (body === undefined) r.end()
      else if (Buffer.isBuffer(body)) r.end(body)
      else {
        body.pump(lendTo(r, () => answeredEarly)).then(
          () => {
            bodySent = true
            if (!answeredEarly) r.end()
          },
          (err: Error) => {
            if (answeredEarly) return // the answer is what counts
            // A failing source aborts the request, so the registry never sees a short body as whole.
            fail(err)
            r.destroy(err)
          }
        )
      }
    })
  }

  close(): void {
    this.#client.dispose()
    this.#raw?.close()
  }
}

/**
 * A sink writing lent chunks to a request: each is given back once the socket has taken it, or
 * once the request is closed (a destroyed request may never call back for queued chunks).
 */
function lendTo(r: http.ClientRequest, stopped: () => boolean): ChunkSink {
  const waiting = new Set<(err: Error) => void>()
  r.once('close', () => {
    for (const giveBack of [...waiting]) giveBack(new Error('the request was closed'))
  })
  return (chunk) =>
    new Promise<void>((resolve, reject) => {
      if (stopped() || r.destroyed) {
        reject(new Error('the request was answered or closed before its body was sent'))
        return
      }
      const settle = (err?: Error | null): void => {
        waiting.delete(settle)
        if (err) reject(err)
        else resolve()
      }
      waiting.add(settle)
      r.write(chunk, settle)
    })
}

/** A network fault before any answer, as a ConnectionError that says what happened; others as they are. */
function asConnectionError(err: Error, url: URL): Error {
  return err instanceof ConnectionError || !isSystemError(err) ? err : toConnectionError(err, url)
}

/** An error of the OS or of node's sockets (it has a code), not one of ours or an assertion's. */
function isSystemError(err: Error): boolean {
  return typeof (err as NodeJS.ErrnoException).code === 'string' && !('expected' in err)
}

function toConnectionError(err: Error, url: URL): ConnectionError {
  const code = (err as NodeJS.ErrnoException).code ?? ''
  const why: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EPROTO: 'TLS handshake failed (is it a plain-HTTP registry? then set plain-http: true)',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'the registry certificate is self-signed',
    SELF_SIGNED_CERT_IN_CHAIN: 'the registry certificate chain has an unknown root',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the registry certificate is signed by an unknown authority',
    CERT_HAS_EXPIRED: 'the registry certificate has expired',
    ERR_TLS_CERT_ALTNAME_INVALID: 'the registry certificate does not match its host name'
  }
  const tls =
    code.includes('CERT') ||
    code.includes('SELF_SIGNED') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'
  return new ConnectionError(`cannot reach registry ${url.host}: ${why[code] ?? err.message}`, {
    hint: tls
      ? 'trust its CA with the ca-file input, or (only if you must) set insecure: true'
      : 'check the registry input and that the registry is up and reachable from the runner',
    cause: err,
    retryable: isNetworkError(err)
  })
}

/**
 * The first `limit` bytes of a body (an error answer's text, a token service's answer); the rest
 * is dropped. Content that must be whole is read with readAll, which refuses more than its limit.
 */
export async function readBodyStart(res: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    total += chunk.length
    if (total > limit) {
      res.body.destroy()
      break
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** Discards a body so the connection can be reused. */
export async function drain(res: HttpResponse): Promise<void> {
  if (res.body.readableEnded) return
  res.body.resume()
  await new Promise<void>((resolve) => {
    res.body.once('end', resolve)
    res.body.once('close', resolve)
    res.body.once('error', () => resolve())
  })
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}
