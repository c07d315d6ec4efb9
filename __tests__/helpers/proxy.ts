// A small HTTP proxy placed in front of the real registry, to show behaviours the local registry
// cannot: redirects to another origin, relative Locations, connections cut mid-body.
import http from 'node:http'
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

export interface TestProxy {
  host: string
  log: ProxiedRequest[]
  /** Forwards to the upstream registry; with cutAfter, the body is cut after that many bytes. */
  forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    opts?: { path?: string; cutAfter?: number; headers?: Record<string, string> }
  ): void
  stop(): Promise<void>
}

export async function startProxy(
  upstream: string,
  intercept: Interceptor = () => false
): Promise<TestProxy> {
  const sockets = new Set<import('node:net').Socket>()
  const forward: TestProxy['forward'] = (req, res, opts = {}) => {
    const headers = { ...req.headers, ...opts.headers }
    const up = http.request(
      `http://${upstream}${opts.path ?? req.url}`,
      { method: req.method, headers, agent: false },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers)
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
    req.pipe(up)
  }
  const server = http.createServer((req, res) => {
    proxy.log.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization
    })
    void Promise.resolve(intercept(req, res, proxy)).then((handled) => {
      if (!handled) forward(req, res)
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const proxy: TestProxy = {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    log: [],
    forward,
    stop: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
  return proxy
}
