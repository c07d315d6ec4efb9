// What a persona saw, request by request, so a test can show that no request refused with a 4xx
// was sent again unchanged (the "no retry storms" rule of docs/registries.md).
import { createHash } from 'node:crypto'
import type http from 'node:http'

/** One request and its answer; `start`/`end` are ticks of one clock shared by a persona. */
export interface Exchange {
  key: string
  method: string
  path: string
  status: number
  /** The request's Content-Range, if any. */
  range: string
  bodyBytes: number
  start: number
  end: number
  /** A refusal the client is expected to answer with one changed re-send (MANIFEST_BLOB_UNKNOWN). */
  resendable?: boolean
}

export class ExchangeLog {
  readonly all: Exchange[] = []
  private tick = 0
  private bytes = 0

  /** Records `req`, counting its body bytes without starting the body flowing. */
  record(req: http.IncomingMessage, res: http.ServerResponse): Exchange {
    const length = Number(req.headers['content-length'] ?? 0)
    const key = [
      req.method,
      req.url,
      length,
      req.headers['content-range'] ?? '',
      // Compared, never shown: a failing test prints keys.
      createHash('sha256')
        .update(req.headers.authorization ?? '')
        .digest('hex')
        .slice(0, 12)
    ].join(' ')
    const ex: Exchange = {
      key,
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://x').pathname,
      status: 0,
      range: String(req.headers['content-range'] ?? ''),
      bodyBytes: 0,
      start: ++this.tick,
      end: Number.POSITIVE_INFINITY
    }
    this.all.push(ex)
    req.on('data', (c: Buffer) => {
      this.bytes += c.length
      ex.bodyBytes += c.length
    })
    // A 'data' listener starts the flow; the proxy pipes the body on later, so hold it until then.
    req.pause()
    res.on('finish', () => {
      ex.status = res.statusCode
      ex.end = ++this.tick
    })
    return ex
  }

  /** Request body bytes that reached the persona (forwarded or refused). */
  bodyBytes(): number {
    return this.bytes
  }

  /** A position to check from: `repeatedAfter4xx(log.since(mark))` looks at one run only. */
  since(mark: number): Exchange[] {
    return this.all.slice(mark)
  }
}

const counts = (e: Exchange): boolean => {
  const lookup = (e.method === 'HEAD' || e.method === 'GET') && e.status === 404
  return (
    e.status >= 400 &&
    e.status < 500 &&
    e.status !== 401 &&
    e.status !== 408 &&
    e.status !== 429 &&
    !lookup
  )
}

/**
 * Requests answered with a 4xx (other than an auth challenge, 408, 429 or a 404 to a lookup) that
 * were sent again unchanged (method, URL, length, range and credentials) after the refusal
 * arrived. Requests in flight together are not repeats: the client could not know. A resendable
 * refusal may be followed by one re-send.
 */
export function repeatedAfter4xx(exchanges: Exchange[]): string[] {
  const repeats: string[] = []
  for (const refused of exchanges.filter(counts)) {
    const later = exchanges.filter((e) => e.key === refused.key && e.start > refused.end)
    if (later.length > (refused.resendable ? 1 : 0))
      repeats.push(`${refused.status} ${refused.key}`)
  }
  return [...new Set(repeats)]
}
