import type { IncomingHttpHeaders } from 'node:http'

/**
 * The HTTP/1.1 framing the slab-landing GET (raw-get.ts) reads and writes, kept pure so the
 * parser of what a server sends, which is what an attacker controls, is tested on its own.
 */

/** A header name (RFC 9110 token). */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** A network fault, shaped as node's are (a code the retry logic knows). */
export function netError(message: string, code = 'ECONNRESET'): Error {
  return Object.assign(new Error(message), { code })
}

/** Thrown for an answer this client leaves to node:http (framing other than Content-Length). */
export class NotRawError extends Error {}

/** What an answer's head says: its status, headers, body length and whether the connection stays. */
export interface ParsedHead {
  status: number
  headers: IncomingHttpHeaders
  length: number
  keep: boolean
}

/** The head of a GET, refusing header names and values that would change its framing. */
export function requestHead(url: URL, headers: Record<string, string>): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`]
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name) || /[\r\n\0]/.test(value))
      throw new Error(`refusing to send header ${JSON.stringify(name)}: invalid characters`)
    lines.push(`${name}: ${value}`)
  }
  return `${lines.join('\r\n')}\r\n\r\n`
}

/** Parses a status line and headers; refuses what a strict HTTP/1.1 reader would. */
export function parseHead(text: string): ParsedHead {
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
