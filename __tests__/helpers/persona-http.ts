// What every persona needs to answer like a registry: error bodies, refusals sent before the
// body arrives, requests the persona read itself and forwards, and the upstream's own answers.
import http from 'node:http'

export function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message }] })
}

/** Answers at once, before the body arrives, as a front end that judges by the headers does. */
export function refuse(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  body: string,
  type = 'application/json'
): true {
  // The rest of the body is read and dropped (a lingering close): closing at once would reset
  // the connection under the answer, and the client might never read it.
  req.resume()
  res.writeHead(status, { 'Content-Type': type })
  res.end(body)
  return true
}

export const isUploadPath = (p: string): boolean => /\/blobs\/uploads\//.test(p)
export const isManifestPath = (p: string): boolean => /\/manifests\//.test(p)
export const isBlobPath = (p: string): boolean => /\/blobs\/sha256:/.test(p)
export const isReferrers = (p: string): boolean => /\/referrers\//.test(p)

export async function readAllBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c)
  return Buffer.concat(chunks)
}

/** Forwards a request whose body the persona already read. */
export function forwardBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: Buffer,
  upstream: string,
  extra: Record<string, string> = {}
): true {
  const up = http.request(
    `http://${upstream}${req.url}`,
    {
      method: req.method,
      headers: { ...req.headers, 'content-length': String(body.length) },
      agent: false
    },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, { ...upRes.headers, ...extra })
      upRes.pipe(res)
    }
  )
  up.on('error', () => res.destroy())
  up.end(body)
  return true
}
