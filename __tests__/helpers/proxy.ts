// A small HTTP proxy placed in front of the real registry, to show behaviours the local registry
// cannot: redirects to another origin, relative Locations, connections cut mid-body.
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'

export interface ProxiedRequest {
  method: string
  url: string
  authorization?: string
}

/** Decides per request: return true when it answered itself, false to forward upstream. */
export type Interceptor = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  proxy: TestProxy
) => boolean | Promise<boolean>

export interface ForwardOptions {
  path?: string
  headers?: Record<string, string>
  /** Cut the response body after this many bytes (the connection is destroyed). */
  cutAfter?: number
  /** Cut the request body after this many bytes: the registry sees a broken upload, the client a reset. */
  cutRequestAfter?: number
  /** Rewrite the upstream answer's status and headers before they are sent on. */
  mapResponse?: (
    status: number,
    headers: http.IncomingHttpHeaders
  ) => { status: number; headers: http.IncomingHttpHeaders }
}

export interface ProxyOptions {
  /** Serve HTTPS with this certificate and key (PEM file paths); upstream stays plain HTTP. */
  tls?: { certificate: string; key: string }
  /** Address to listen on (default 127.0.0.1); `host` names it. */
  bind?: string
}

export interface TestProxy {
  host: string
  log: ProxiedRequest[]
  /** Forwards to the upstream registry; with cutAfter, the body is cut after that many bytes. */
  forward(req: http.IncomingMessage, res: http.ServerResponse, opts?: ForwardOptions): void
  stop(): Promise<void>
}

export async function startProxy(
  upstream: string,
  intercept: Interceptor = () => false,
  serve: ProxyOptions = {}
): Promise<TestProxy> {
  const sockets = new Set<import('node:net').Socket>()
  const forward: TestProxy['forward'] = (req, res, opts = {}) => {
    const headers = { ...req.headers, ...opts.headers }
    const up = http.request(
      `http://${upstream}${opts.path ?? req.url}`,
      { method: req.method, headers, agent: false },
      (upRes) => {
        let status = upRes.statusCode ?? 502
        let outHeaders = upRes.headers
        if (opts.mapResponse)
          ({ status, headers: outHeaders } = opts.mapResponse(status, { ...upRes.headers }))
        res.writeHead(status, outHeaders)
        if (opts.cutAfter === undefined) {
          upRes.pipe(res)
          return
        }
        let sent = 0
        upRes.on('data', (chunk: Buffer) => {
          const room = (opts.cutAfter as number) - sent
          if (room <= 0) return
          res.write(chunk.subarray(0, room))
          sent += Math.min(room, chunk.length)
          if (sent >= (opts.cutAfter as number)) {
            upRes.destroy()
            res.socket?.destroy()
          }
        })
        upRes.on('end', () => res.end())
      }
    )
    up.on('error', () => res.destroy())
    if (opts.cutRequestAfter === undefined) {
      req.pipe(up)
      return
    }
    let got = 0
    req.on('data', (chunk: Buffer) => {
      const room = (opts.cutRequestAfter as number) - got
      if (room > 0) up.write(chunk.subarray(0, room))
      got += chunk.length
      if (got >= (opts.cutRequestAfter as number)) {
        up.destroy()
        req.socket.destroy()
      }
    })
    req.on('end', () => up.end())
  }
  const handle: http.RequestListener = (req, res) => {
    proxy.log.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization
    })
    void Promise.resolve(intercept(req, res, proxy)).then((handled) => {
      if (!handled) forward(req, res)
    })
  }
  const server = serve.tls
    ? https.createServer(
        { cert: readFileSync(serve.tls.certificate), key: readFileSync(serve.tls.key) },
        handle
      )
    : http.createServer(handle)
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  const bind = serve.bind ?? '127.0.0.1'
  await new Promise<void>((resolve) => server.listen(0, bind, resolve))
  const proxy: TestProxy = {
    host: `${bind}:${(server.address() as AddressInfo).port}`,
    log: [],
    forward,
    stop: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  return proxy
}
