// The slab-landing HTTP/1.1 GET, against servers that answer byte by byte as a test says:
// split heads, keep-alive and its loss, interim answers, framings it leaves to node:http, cut
// bodies, hostile heads, TLS.
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import net from 'node:net'
import tls from 'node:tls'
import { BlobCursor } from '../content/blob-cursor.js'
import { slabs } from '../slabs/pool.js'
import { ConnectionError } from '../errors/errors.js'
import { HttpTransport } from './http.js'
import { isNetworkError } from './retry.js'
import { makeTestCa, type TestCa } from '../../__tests__/helpers/tls.js'

type Answer = (socket: net.Socket, request: string, n: number) => void | Promise<void>

interface Server {
  url: string
  connections: number
  requests: string[]
  stop(): Promise<void>
}

/** A server that reads each request head and lets `answer` write whatever it likes. */
async function serve(answer: Answer, tlsOpts?: tls.TlsOptions): Promise<Server> {
  const sockets = new Set<net.Socket>()
  const state: Server = { url: '', connections: 0, requests: [], stop: async () => undefined }
  const onSocket = (socket: net.Socket): void => {
    state.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buf = ''
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1')
      let end: number
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const request = buf.slice(0, end)
        buf = buf.slice(end + 4)
        state.requests.push(request)
        void answer(socket, request, state.requests.length)
      }
    })
  }
  const server = tlsOpts ? tls.createServer(tlsOpts, onSocket) : net.createServer(onSocket)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  state.url = `${tlsOpts ? 'https' : 'http'}://127.0.0.1:${port}`
  state.stop = async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return state
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

/** Reads a response's slabs through a verifying cursor into one buffer. */
async function readVerified(
  chunks: NonNullable<Awaited<ReturnType<HttpTransport['send']>>['chunks']>,
  expect: Buffer
): Promise<Buffer> {
  const cursor = new BlobCursor(chunks, { digest: sha256(expect), size: expect.length }, 'test')
  const parts: Buffer[] = []
  await cursor.pump(async (chunk) => {
    parts.push(Buffer.from(chunk))
  })
  await cursor.close()
  return Buffer.concat(parts)
}

/** Writes bytes a few at a time, with pauses, so every read boundary is exercised. */
async function dribble(socket: net.Socket, bytes: Buffer, step: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += step) {
    socket.write(bytes.subarray(at, at + step))
    await new Promise((r) => setImmediate(r))
  }
}

const head = (status: string, headers: Record<string, string | number>): Buffer =>
  Buffer.from(
    `HTTP/1.1 ${status}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
    'latin1'
  )

describe('slab-landing GET', () => {
  const transports: HttpTransport[] = []
  const servers: Server[] = []
  const transport = (opts: ConstructorParameters<typeof HttpTransport>[0] = {}): HttpTransport => {
    const t = new HttpTransport({ timeoutMs: 5000, ...opts })
    transports.push(t)
    return t
  }
  const server = async (answer: Answer, tlsOpts?: tls.TlsOptions): Promise<Server> => {
    const s = await serve(answer, tlsOpts)
    servers.push(s)
    return s
  }
  afterEach(async () => {
    for (const t of transports.splice(0)) t.close()
    for (const s of servers.splice(0)) await s.stop()
  })

  it('reads a body that arrives a few bytes at a time, head included, into slabs', async () => {
    const body = randomBytes(slabs.slabSize * 2 + 12345)
    const s = await server(async (socket) => {
      await dribble(
        socket,
        Buffer.concat([head('200 OK', { 'Content-Length': body.length }), body.subarray(0, 7)]),
        3
      )
      await dribble(socket, body.subarray(7), 70_000)
    })
    const res = await transport().sendForChunks({ method: 'GET', url: new URL(`${s.url}/blob`) })
    expect(res.status).toBe(200)
    expect(res.chunks).toBeDefined()
    expect((await readVerified(res.chunks!, body)).equals(body)).toBe(true)
    expect(s.requests[0]).toMatch(
      /^GET \/blob HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\nUser-Agent: /
    )
  })

  it('keeps the connection for the next GET, and opens another when the server closed it', async () => {
    const body = randomBytes(300_000)
    const s = await server((socket, _req, n) => {
      socket.write(Buffer.concat([head('200 OK', { 'Content-Length': body.length }), body]))
      // After the second answer the server drops the idle connection.
      if (n === 2) setTimeout(() => socket.destroy(), 20)
    })
    const t = transport()
    for (let i = 0; i < 3; i++) {
      const res = await t.sendForChunks({ method: 'GET', url: new URL(`${s.url}/b${i}`) })
      expect((await readVerified(res.chunks!, body)).equals(body)).toBe(true)
      await new Promise((r) => setTimeout(r, 60))
    }
    expect(s.requests).toHaveLength(3)
    expect(s.connections).toBe(2)
  })

  it('does not reuse a connection the server asked to close', async () => {
    const s = await server((socket) => {
      socket.end(
        Buffer.concat([
          head('200 OK', { 'Content-Length': 3, Connection: 'close' }),
          Buffer.from('abc')
        ])
      )
    })
    const t = transport()
    for (let i = 0; i < 2; i++) {
      const res = await t.sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
      expect((await readVerified(res.chunks!, Buffer.from('abc'))).toString()).toBe('abc')
    }
    expect(s.connections).toBe(2)
  })

  it('skips an interim 100 answer', async () => {
    const s = await server((socket) => {
      socket.write(
        Buffer.concat([
          head('100 Continue', {}),
          head('200 OK', { 'Content-Length': 2 }),
          Buffer.from('ok')
        ])
      )
    })
    const res = await transport().sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
    expect(res.status).toBe(200)
    expect((await readVerified(res.chunks!, Buffer.from('ok'))).toString()).toBe('ok')
  })

  it('leaves a chunked answer to node:http, which reads it whole', async () => {
    const s = await server((socket) => {
      socket.write(
        Buffer.concat([
          head('200 OK', { 'Transfer-Encoding': 'chunked' }),
          Buffer.from('3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')
        ])
      )
    })
    const res = await transport().sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
    expect(res.status).toBe(200)
    expect(res.chunks).toBeUndefined()
    const parts: Buffer[] = []
    for await (const c of res.body as AsyncIterable<Buffer>) parts.push(c)
    expect(Buffer.concat(parts).toString()).toBe('abcde')
    expect(s.requests).toHaveLength(2)
  })

  it('with OCI_LAYOUT_RAW_GET=0, or rawGet: false, leaves every download to node:http', async () => {
    const s = await server(
      (socket) =>
        void socket.write(
          Buffer.concat([head('200 OK', { 'Content-Length': 2 }), Buffer.from('ok')])
        )
    )
    const before = process.env.OCI_LAYOUT_RAW_GET
    process.env.OCI_LAYOUT_RAW_GET = '0'
    let off: HttpTransport
    try {
      off = transport()
    } finally {
      if (before === undefined) delete process.env.OCI_LAYOUT_RAW_GET
      else process.env.OCI_LAYOUT_RAW_GET = before
    }
    for (const t of [off, transport({ rawGet: false })]) {
      const res = await t.sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
      expect(res.chunks).toBeUndefined()
      const parts: Buffer[] = []
      for await (const c of res.body as AsyncIterable<Buffer>) parts.push(c)
      expect(Buffer.concat(parts).toString()).toBe('ok')
    }
    expect(s.requests).toHaveLength(2)
    const on = await transport().sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
    expect(on.chunks).toBeDefined()
    expect((await readVerified(on.chunks!, Buffer.from('ok'))).toString()).toBe('ok')
  })

  it('gives an error answer as a stream, with the connection still usable', async () => {
    const text = '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}'
    const s = await server((socket) => {
      socket.write(
        Buffer.concat([
          head('404 Not Found', {
            'Content-Length': text.length,
            'Content-Type': 'application/json'
          }),
          Buffer.from(text)
        ])
      )
    })
    const t = transport()
    const res = await t.sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
    expect(res.status).toBe(404)
    expect(res.headers['content-type']).toBe('application/json')
    const parts: Buffer[] = []
    for await (const c of res.body as AsyncIterable<Buffer>) parts.push(c)
    expect(Buffer.concat(parts).toString()).toBe(text)
    await t
      .sendForChunks({ method: 'GET', url: new URL(`${s.url}/y`) })
      .then((r) => r.body.resume())
    expect(s.connections).toBe(1)
  })

  it('fails a body cut short with a network error the retry logic knows', async () => {
    const s = await server((socket) => {
      socket.write(head('200 OK', { 'Content-Length': 1_000_000 }))
      socket.end(randomBytes(500_000))
    })
    const res = await transport().sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
    const cursor = new BlobCursor(
      res.chunks!,
      { digest: sha256(Buffer.alloc(1)), size: 1_000_000 },
      'test'
    )
    const err = await cursor.pump(async () => undefined).catch((e: unknown) => e)
    await cursor.close()
    expect(isNetworkError(err)).toBe(true)
  })

  it('refuses hostile heads: too long, malformed, conflicting lengths', async () => {
    const answers = [
      Buffer.concat([
        Buffer.from('HTTP/1.1 200 OK\r\n'),
        Buffer.from(`X-Pad: ${'a'.repeat(70_000)}\r\n\r\n`)
      ]),
      Buffer.from('HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 1\r\n\r\nx'),
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx'),
      Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'),
      Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')
    ]
    for (const answer of answers) {
      const s = await server((socket) => void socket.write(answer))
      const err = await transport()
        .sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConnectionError)
      expect((err as Error).message).not.toMatch(/TLS/)
    }
  })

  it('refuses to send a header value with a line break', async () => {
    const s = await server((socket) => void socket.end())
    await expect(
      transport().sendForChunks({
        method: 'GET',
        url: new URL(`${s.url}/x`),
        headers: { Authorization: 'Bearer x\r\nX-Evil: 1' }
      })
    ).rejects.toThrow(/invalid characters/)
    expect(s.requests).toHaveLength(0)
  })

  describe('over TLS', () => {
    let ca: TestCa
    beforeAll(async () => {
      ca = await makeTestCa()
    }, 60_000)

    it('reads a body from a server signed by a trusted CA, and refuses one it does not trust', async () => {
      const body = randomBytes(slabs.slabSize + 99)
      const s = await server(
        (socket) =>
          void socket.write(
            Buffer.concat([head('200 OK', { 'Content-Length': body.length }), body])
          ),
        { key: await readFile(ca.serverKey), cert: await readFile(ca.serverCert) }
      )
      const trusted = transport({ ca: await readFile(ca.caCert, 'utf8') })
      const res = await trusted.sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
      expect((await readVerified(res.chunks!, body)).equals(body)).toBe(true)
      const err = await transport()
        .sendForChunks({ method: 'GET', url: new URL(`${s.url}/x`) })
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConnectionError)
      expect((err as ConnectionError).hint).toMatch(/ca-file/)
    })
  })
})
