#!/usr/bin/env node
// @ts-check
// A reverse proxy that holds every request DELAY ms before forwarding it to the registry: the
// latency of a registry across the internet, on loopback. The benchmark runs it as a process of
// its own (servers.mjs), so its CPU is charged neither to the tool nor to the registry.
//
//   node scripts/bench/delay-proxy.mjs UPSTREAM_HOST:PORT DELAY_MS
//
// It prints `listening PORT` once it listens on 127.0.0.1. Keep-alive on both sides (the client's
// connections stay open; an agent keeps the registry's), bodies streamed both ways without
// buffering, headers passed as they are: the Host header too, so the registry's Location URLs
// name the proxy and the uploads that follow come back through it.

import http from 'node:http'

const [upstream, delayArg] = process.argv.slice(2)
const delayMs = Number(delayArg)
if (!upstream || !/^[\w.-]+:\d+$/.test(upstream) || !(delayMs >= 0)) {
  console.error('usage: node scripts/bench/delay-proxy.mjs UPSTREAM_HOST:PORT DELAY_MS')
  process.exit(2)
}
const [upHost, upPort] = upstream.split(':')
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })

const server = http.createServer((req, res) => {
  // The body waits in the socket (paused) until the delay is over, then streams through. Node
  // has answered an `Expect: 100-continue` already; the registry is not asked again.
  req.pause()
  const { expect: _expect, ...headers } = req.headers
  setTimeout(() => {
    const up = http.request(
      {
        host: upHost,
        port: Number(upPort),
        method: req.method,
        path: req.url,
        headers,
        agent
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.rawHeaders)
        upRes.pipe(res)
      }
    )
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
      res.end(`delay-proxy: ${err.message}\n`)
    })
    req.pipe(up)
    req.resume()
  }, delayMs)
})
server.keepAliveTimeout = 60_000
server.headersTimeout = 65_000
server.requestTimeout = 0 // a blob upload may take long
server.listen(0, '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  process.stdout.write(`listening ${port}\n`)
})
