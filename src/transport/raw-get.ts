import type { IncomingHttpHeaders } from 'node:http'
import * as net from 'node:net'
import * as tls from 'node:tls'
import { netError, NotRawError, parseHead, requestHead, type ParsedHead } from './http-head.js'
import { RawBody } from './raw-body.js'

/**
 * HTTP/1.1 GETs whose bodies land straight in pooled slabs: the socket reads into the slab being
 * filled (net and tls `onread`), so a GiB arrives without a GiB of short-lived buffers (node:http
 * allocates one per socket read and copies each body piece into another). Used for blob
 * downloads only, without a proxy, for answers framed by Content-Length; anything else is left to
 * node:http (the caller sends the request again there).
 */

export interface RawGetOptions {
  /** PEM bundle trusted in addition to the default CAs. */
  ca?: string
  insecure?: boolean
  timeoutMs: number
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  /** The body in slabs; read it to its end (or close it) before the next request. */
  chunks: RawBody
}

const MAX_HEAD = 64 * 1024
const HEAD_BUFFER = 16 * 1024
/** How long an idle connection is kept for reuse. */
const IDLE_MS = 4_000

type Phase = 'head' | 'body' | 'idle' | 'dead'

/** One keep-alive connection, reading into whatever its current phase needs. */
class Connection {
  readonly key: string
  readonly socket: net.Socket
  #phase: Phase = 'idle'
  #head = Buffer.allocUnsafe(HEAD_BUFFER)
  #headLen = 0
  #onHead?: { resolve: (r: RawResponse) => void; reject: (e: unknown) => void }
  #body?: RawBody
  #reused = false
  #gotBytes = false
  #error?: Error
  idleTimer?: NodeJS.Timeout

  constructor(key: string, url: URL, opts: RawGetOptions, onGone: (c: Connection) => void) {
    this.key = key
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80)
    const onread = {
      buffer: () => this.#nextBuffer(),
      callback: (n: number) => this.#onRead(n)
    }
    if (url.protocol === 'https:') {
      // tls.connect takes onread as net.connect does (its typings omit it).
      const options: tls.ConnectionOptions & { onread: net.OnReadOpts } = {
        host,
        port,
        servername: net.isIP(host) ? undefined : host,
        ca: opts.ca ? [...tls.rootCertificates, opts.ca] : undefined,
        rejectUnauthorized: !opts.insecure,
        ALPNProtocols: ['http/1.1'],
        onread
      }
      this.socket = tls.connect(options)
    } else {
      this.socket = net.connect({ host, port, onread })
    }
    this.socket.setNoDelay(true)
    this.socket.setTimeout(opts.timeoutMs, () =>
      this.socket.destroy(
        netError(`${url.host}: no answer for ${Math.round(opts.timeoutMs / 1000)} s`, 'ETIMEDOUT')
      )
    )
    // With onread no 'data' is emitted, but a listener keeps the stream flowing, so 'end' comes.
    this.socket.on('data', () => undefined)
    this.socket.on('error', (err) => this.#fail(err))
    this.socket.on('end', () => this.#fail(netError('the connection was closed by the server')))
    this.socket.on('close', () => {
      this.#fail(netError('the connection was closed'))
      onGone(this)
    })
  }

  get alive(): boolean {
    return this.#phase === 'idle' && !this.socket.destroyed
  }

  /** Sends a GET; resolves once the answer's head is in. */
  send(head: string): Promise<RawResponse> {
    this.#reused = this.socket.bytesWritten > 0
    this.#gotBytes = false
    this.#phase = 'head'
    this.#headLen = 0
    return new Promise((resolve, reject) => {
      this.#onHead = { resolve, reject }
      this.socket.write(head, 'latin1')
      this.socket.resume()
    })
  }

  /** True when a reused connection died before answering at all: send again on a fresh one. */
  get stale(): boolean {
    return this.#reused && !this.#gotBytes
  }

  #nextBuffer(): Buffer {
    if (this.#phase === 'body' && this.#body) return this.#body.landingRegion()
    if (this.#headLen === this.#head.length) {
      if (this.#head.length >= MAX_HEAD) {
        this.#fail(netError(`answer head over ${MAX_HEAD} bytes`, 'HPE_INVALID_RESPONSE'))
        return this.#head
      }
      const bigger = Buffer.allocUnsafe(this.#head.length * 2)
      this.#head.copy(bigger, 0, 0, this.#headLen)
      this.#head = bigger
    }
    return this.#head.subarray(this.#headLen)
  }

  /** Returns false to pause reading. */
  #onRead(n: number): boolean {
    this.#gotBytes = true
    if (this.#phase === 'body' && this.#body) {
      const more = this.#body.landed(n)
      if (this.#body.complete) this.#endBody()
      return more
    }
    if (this.#phase !== 'head') {
      this.#fail(netError('the server sent bytes nobody asked for', 'HPE_INVALID_RESPONSE'))
      return false
    }
    const from = Math.max(0, this.#headLen - 3)
    this.#headLen += n
    const end = this.#head.subarray(0, this.#headLen).indexOf('\r\n\r\n', from, 'latin1')
    if (end < 0) return true
    this.#parseHead(end)
    return !this.#body?.full
  }

  #parseHead(end: number): void {
    const onHead = this.#onHead
    this.#onHead = undefined
    let parsed: ParsedHead
    try {
      parsed = parseHead(this.#head.toString('latin1', 0, end))
    } catch (err) {
      this.#fail(err as Error)
      onHead?.reject(err)
      return
    }
    if (parsed.status >= 100 && parsed.status < 200) {
      // An interim answer: the real one follows.
      this.#head.copy(this.#head, 0, end + 4, this.#headLen)
      this.#headLen -= end + 4
      this.#onHead = onHead
      const next = this.#head.subarray(0, this.#headLen).indexOf('\r\n\r\n', 0, 'latin1')
      if (next >= 0) this.#parseHead(next)
      return
    }
    const extra = this.#head.subarray(end + 4, this.#headLen)
    const body = new RawBody(this, parsed.length, parsed.keep && extra.length <= parsed.length)
    this.#body = body
    this.#phase = 'body'
    body.landed(0, extra)
    if (body.complete) this.#endBody()
    onHead?.resolve({ status: parsed.status, headers: parsed.headers, chunks: body })
  }

  #endBody(): void {
    const body = this.#body
    this.#body = undefined
    if (body?.reusable && !this.socket.destroyed) {
      this.#phase = 'idle'
      this.#headLen = 0
    } else {
      this.#phase = 'dead'
      this.socket.destroy()
    }
  }

  #fail(err: Error): void {
    if (this.#phase === 'dead' && this.#error) return
    this.#error ??= err
    this.#phase = 'dead'
    this.#onHead?.reject(err)
    this.#onHead = undefined
    this.#body?.fail(err)
    this.#body = undefined
    if (!this.socket.destroyed) this.socket.destroy()
  }

  resume(): void {
    if (!this.socket.destroyed) this.socket.resume()
  }

  close(): void {
    this.#phase = 'dead'
    this.socket.destroy()
  }
}

/** Keep-alive connections per origin, for the raw GETs of one transport. */
export class RawGetter {
  readonly #opts: RawGetOptions
  readonly #idle = new Map<string, Connection[]>()
  readonly #all = new Set<Connection>()

  constructor(opts: RawGetOptions) {
    this.#opts = opts
  }

  /** Sends a GET; a reused connection that dies before answering is replaced once. */
  async get(url: URL, headers: Record<string, string>): Promise<RawResponse> {
    const head = requestHead(url, headers)
    for (let fresh = false; ; fresh = true) {
      const conn = (!fresh && this.#takeIdle(url.origin)) || this.#connect(url)
      try {
        const res = await conn.send(head)
        this.#watch(conn, res.chunks)
        return res
      } catch (err) {
        if (!fresh && conn.stale && !(err instanceof NotRawError)) continue
        conn.close()
        throw err
      }
    }
  }

  #takeIdle(key: string): Connection | undefined {
    const list = this.#idle.get(key)
    while (list?.length) {
      const conn = list.pop() as Connection
      clearTimeout(conn.idleTimer)
      if (conn.alive) {
        conn.socket.ref()
        return conn
      }
    }
    return undefined
  }

  #connect(url: URL): Connection {
    const conn = new Connection(url.origin, url, this.#opts, (c) => {
      this.#all.delete(c)
      const list = this.#idle.get(c.key)
      const i = list?.indexOf(c) ?? -1
      if (list && i >= 0) list.splice(i, 1)
    })
    this.#all.add(conn)
    return conn
  }

  /** Back to the idle list once its body has been read off the socket. */
  #watch(conn: Connection, body: RawBody): void {
    const park = (): void => {
      if (!conn.alive) return
      // An idle connection must not keep the process alive.
      conn.socket.unref()
      const list = this.#idle.get(conn.key) ?? []
      list.push(conn)
      this.#idle.set(conn.key, list)
      conn.idleTimer = setTimeout(() => conn.close(), IDLE_MS)
      conn.idleTimer.unref()
    }
    if (body.complete) park()
    else void body.whenComplete().then(park, () => undefined)
  }

  close(): void {
    for (const conn of this.#all) conn.close()
    this.#all.clear()
    this.#idle.clear()
  }
}
