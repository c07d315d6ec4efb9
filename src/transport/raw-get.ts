import type { IncomingHttpHeaders } from 'node:http'
import * as net from 'node:net'
import { Readable } from 'node:stream'
import * as tls from 'node:tls'
import type { ChunkSource } from '../content/blob-cursor.js'
import { slabs } from '../content/slabs.js'

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
/** Slabs a connection may hold filled before the reader takes them. */
const READ_AHEAD = 2
/** How long an idle connection is kept for reuse. */
const IDLE_MS = 4_000

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** A network fault, shaped as node's are (a code the retry logic knows). */
function netError(message: string, code = 'ECONNRESET'): Error {
  return Object.assign(new Error(message), { code })
}

/** Thrown for an answer this client leaves to node:http (framing other than Content-Length). */
export class NotRawError extends Error {}

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
    let parsed: { status: number; headers: IncomingHttpHeaders; length: number; keep: boolean }
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

/** Parses a status line and headers; refuses what a strict HTTP/1.1 reader would. */
export function parseHead(text: string): {
  status: number
  headers: IncomingHttpHeaders
  length: number
  keep: boolean
} {
  const lines = text.split('\r\n')
  const status = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: .*)?$/.exec(lines[0])
  if (!status)
    throw netError(
      `not an HTTP/1.1 answer: ${JSON.stringify(lines[0].slice(0, 80))}`,
      'HPE_INVALID_RESPONSE'
    )
  const headers: Record<string, string | string[]> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).toLowerCase()
    if (colon <= 0 || !TOKEN.test(name))
      throw netError('malformed header line in an answer', 'HPE_INVALID_RESPONSE')
    const value = line.slice(colon + 1).trim()
    const prev = headers[name]
    if (name === 'set-cookie') headers[name] = [...((prev as string[] | undefined) ?? []), value]
    else headers[name] = prev === undefined ? value : `${prev as string}, ${value}`
  }
  const code = Number(status[2])
  const connection = String(headers.connection ?? '').toLowerCase()
  const keep = status[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection)
  if (code < 200 || code === 204 || code === 304) return { status: code, headers, length: 0, keep }
  if (headers['transfer-encoding'] !== undefined) throw new NotRawError('transfer-encoding')
  const cl = headers['content-length']
  if (typeof cl !== 'string') throw new NotRawError('no content-length')
  const lengths = new Set(cl.split(',').map((v) => v.trim()))
  const [only] = [...lengths]
  if (lengths.size !== 1 || !/^\d{1,15}$/.test(only))
    throw netError(
      `invalid Content-Length ${JSON.stringify(cl.slice(0, 40))}`,
      'HPE_INVALID_RESPONSE'
    )
  return { status: code, headers, length: Number(only), keep }
}

/**
 * An answer's body as slabs. The connection reads into the slab being landed; up to READ_AHEAD
 * filled slabs wait for the reader, then the connection pauses until one is taken.
 */
export class RawBody implements ChunkSource {
  readonly #conn: Connection
  readonly reusable: boolean
  #remaining: number
  #landing?: Buffer
  #landedBytes = 0
  readonly #ready: Buffer[] = []
  #error?: unknown
  #waiter?: { max: number; resolve: (b: Buffer | undefined) => void; reject: (e: unknown) => void }
  #paused = false
  #stream?: Readable
  readonly #completed: Promise<void>
  #markComplete!: () => void
  #markFailed!: (err: unknown) => void

  constructor(conn: Connection, length: number, reusable: boolean) {
    this.#conn = conn
    this.#remaining = length
    this.reusable = reusable
    this.#completed = new Promise<void>((resolve, reject) => {
      this.#markComplete = resolve
      this.#markFailed = reject
    })
    this.#completed.catch(() => undefined)
    if (length === 0) this.#markComplete()
  }

  /** Settles once every byte is off the socket (its connection is free again), or on failure. */
  whenComplete(): Promise<void> {
    return this.#completed
  }

  /** Every byte of the body has been read off the socket. */
  get complete(): boolean {
    return this.#remaining === 0
  }

  /** As many slabs are filled as may wait: reading pauses. */
  get full(): boolean {
    return this.#ready.length >= READ_AHEAD
  }

  /** Where the next socket read goes: the free part of the landing slab, bounded by the body. */
  landingRegion(): Buffer {
    this.#landing ??= slabs.take()
    const end = Math.min(this.#landing.length, this.#landedBytes + this.#remaining)
    return this.#landing.subarray(this.#landedBytes, end)
  }

  /** Takes `n` bytes just read into the landing region (or `initial` bytes read with the head). */
  landed(n: number, initial?: Buffer): boolean {
    if (initial?.length) {
      const take = Math.min(initial.length, this.#remaining)
      let at = 0
      while (at < take) {
        const region = this.landingRegion()
        const copied = initial.copy(region, 0, at, take)
        at += copied
        this.#advance(copied)
      }
    } else if (n > 0) {
      this.#advance(n)
    }
    if (this.full && !this.complete) {
      this.#paused = true
      return false
    }
    return true
  }

  #advance(n: number): void {
    this.#landedBytes += n
    this.#remaining -= n
    const landing = this.#landing as Buffer
    if (this.#remaining === 0 || this.#landedBytes === landing.length) {
      this.#ready.push(landing.subarray(0, this.#landedBytes))
      this.#landing = undefined
      this.#landedBytes = 0
    }
    if (this.#remaining === 0) this.#markComplete()
    this.#deliver()
  }

  #deliver(): void {
    const w = this.#waiter
    if (!w) return
    if (this.#ready.length) {
      this.#waiter = undefined
      w.resolve(this.#take(w.max))
    } else if (this.complete) {
      this.#waiter = undefined
      w.resolve(undefined)
    } else if (this.#error !== undefined) {
      this.#waiter = undefined
      w.reject(this.#error)
    }
  }

  #take(max: number): Buffer {
    let chunk = this.#ready.shift() as Buffer
    if (chunk.length > max) {
      // Asked for less than a slab holds: the rest goes into a slab of its own, ahead of the queue.
      const rest = slabs.take()
      chunk.copy(rest, 0, max)
      this.#ready.unshift(rest.subarray(0, chunk.length - max))
      chunk = chunk.subarray(0, max)
    }
    if (this.#paused && !this.full) {
      this.#paused = false
      this.#conn.resume()
    }
    return chunk
  }

  next(max: number): Promise<Buffer | undefined> {
    if (this.#ready.length) return Promise.resolve(this.#take(max))
    if (this.complete) return Promise.resolve(undefined)
    if (this.#error !== undefined) return Promise.reject(this.#error)
    return new Promise((resolve, reject) => {
      this.#waiter = { max, resolve, reject }
      if (this.#paused) {
        this.#paused = false
        this.#conn.resume()
      }
    })
  }

  async rest(): Promise<number> {
    const chunk = await this.next(Infinity)
    if (!chunk) return 0
    slabs.give(chunk)
    return chunk.length
  }

  fail(err: unknown): void {
    if (this.complete) return
    this.#error ??= err
    this.#markFailed(err)
    if (this.#landing) slabs.give(this.#landing)
    this.#landing = undefined
    this.#deliver()
  }

  /** Drops what is unread; a body not read to its end takes its connection with it. */
  async close(): Promise<void> {
    for (const chunk of this.#ready.splice(0)) slabs.give(chunk)
    if (!this.complete) {
      this.fail(netError('the body was not read to its end'))
      this.#conn.close()
    }
  }

  /** The body as a stream (an error answer's text, a redirect's body to drain). */
  get stream(): Readable {
    this.#stream ??= Readable.from(this.#copies(), { objectMode: false })
    return this.#stream
  }

  async *#copies(): AsyncGenerator<Buffer> {
    try {
      for (let chunk = await this.next(Infinity); chunk; chunk = await this.next(Infinity)) {
        const copy = Buffer.from(chunk)
        slabs.give(chunk)
        yield copy
      }
    } finally {
      await this.close()
    }
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
    const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`]
    for (const [name, value] of Object.entries(headers)) {
      if (!TOKEN.test(name) || /[\r\n\0]/.test(value))
        throw new Error(`refusing to send header ${JSON.stringify(name)}: invalid characters`)
      lines.push(`${name}: ${value}`)
    }
    const head = `${lines.join('\r\n')}\r\n\r\n`
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
