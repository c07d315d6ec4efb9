import { Readable } from 'node:stream'
import { OciError, RegistryError } from '../content/errors.js'
import type { Content } from '../content/target.js'
import type { Descriptor } from '../oci/types.js'
import { drain, header, type HttpResponse } from '../transport/http.js'
import { backoff, isRetryableTransferError, sleep, type RetryPolicy } from '../transport/retry.js'
import type { RegistryClient } from './client.js'

export interface UploadOptions {
  client: RegistryClient
  repository: string
  scope: string
  /** Blobs larger than this go up in PATCH chunks of this size; 0 never chunks unless the registry insists. */
  chunkSize: number
  retry: RetryPolicy
  onRetry?: (line: string) => void
  /** A repository of the same registry that holds the blob already: mount it from there. */
  mountFrom?: string
}

interface Session {
  location: URL
  /** OCI-Chunk-Min-Length, when the registry announces one. */
  minChunk: number
}

/**
 * Resolves an upload Location: absolute, host-relative or query-only, against the URL that
 * answered. A Location naming the same host without a port keeps the request's port (some
 * registries behind proxies drop it).
 */
export function resolveLocation(location: string, base: URL): URL {
  const url = new URL(location, base)
  if (
    /^[a-z]+:\/\//i.test(location) &&
    url.hostname === base.hostname &&
    url.protocol === base.protocol &&
    !url.port &&
    base.port
  ) {
    url.port = base.port
  }
  return url
}

function withDigest(location: URL, digest: string): URL {
  const url = new URL(location)
  url.searchParams.set('digest', digest)
  return url
}

/** Takes the next `n` bytes of an async byte iterator as a stream, keeping what is left over. */
class ByteCursor {
  readonly #it: AsyncIterator<Buffer>
  #rest: Buffer = Buffer.alloc(0)

  constructor(stream: Readable) {
    this.#it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
  }

  take(n: number): Readable {
    return Readable.from(this.#bytes(n), { objectMode: false })
  }

  async *#bytes(n: number): AsyncGenerator<Buffer> {
    let left = n
    while (left > 0) {
      let chunk = this.#rest
      this.#rest = Buffer.alloc(0)
      if (chunk.length === 0) {
        const next = await this.#it.next()
        if (next.done) throw new OciError(`blob ended ${left} bytes early`)
        chunk = next.value
      }
      if (chunk.length > left) {
        this.#rest = chunk.subarray(left)
        chunk = chunk.subarray(0, left)
      }
      left -= chunk.length
      yield chunk
    }
  }

  async close(): Promise<void> {
    await this.#it.return?.()
  }
}

/**
 * Uploads one blob: POST opens a session; a blob up to the chunk size goes in one PUT, a larger
 * one (or any, after a 413) in PATCH chunks. When a chunk fails, the registry is asked what it
 * holds (GET on the session gives `Range: 0-N`) and the upload resumes from there.
 */
export async function uploadBlob(
  opts: UploadOptions,
  desc: Descriptor,
  content: Content
): Promise<'uploaded' | 'mounted'> {
  const open = (start: number): Promise<Readable> =>
    Buffer.isBuffer(content)
      ? Promise.resolve(Readable.from([content.subarray(start)]))
      : content(start)
  let session: Session | undefined
  if (opts.mountFrom) {
    const mounted = await tryMount(opts, desc, opts.mountFrom)
    if (mounted === 'mounted') return 'mounted'
    session = mounted
  }
  session ??= await startSession(opts, desc)
  const chunked = opts.chunkSize > 0 && desc.size > opts.chunkSize
  if (!chunked) {
    const res = await opts.client.request({
      method: 'PUT',
      url: withDigest(session.location, desc.digest),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
      body: () => open(0),
      scope: opts.scope,
      retry: false
    })
    if (res.status === 201) {
      await drain(res)
      return 'uploaded'
    }
    // Too large for one request (a proxy's body limit): go again in chunks.
    if (res.status !== 413) return opts.client.fail(res, 'PUT', `uploading ${desc.digest}`)
    await drain(res)
    const small = Math.min(opts.chunkSize || 16 << 20, 16 << 20)
    await uploadChunked(opts, desc, await startSession(opts, desc), open, small)
    return 'uploaded'
  }
  await uploadChunked(opts, desc, session, open, opts.chunkSize)
  return 'uploaded'
}

/**
 * Asks the registry to link a blob another repository of it already holds: 201 means done,
 * 202 opens an ordinary upload session. Any failure falls back to a plain upload.
 */
async function tryMount(
  opts: UploadOptions,
  desc: Descriptor,
  from: string
): Promise<'mounted' | Session | undefined> {
  const url = new URL(`/v2/${opts.repository}/blobs/uploads/`, opts.client.origin)
  url.searchParams.set('mount', desc.digest)
  url.searchParams.set('from', from)
  try {
    const res = await opts.client.request({
      method: 'POST',
      url,
      body: Buffer.alloc(0),
      // Reading the source repository needs its own pull scope.
      scope: `${opts.scope} repository:${from}:pull`,
      retry: true
    })
    await drain(res)
    if (res.status === 201) return 'mounted'
    const location = header(res, 'location')
    if (res.status === 202 && location) {
      return {
        location: resolveLocation(location, res.url),
        minChunk: Number(header(res, 'oci-chunk-min-length')) || 0
      }
    }
  } catch {
    // A registry that cannot mount still takes an upload.
  }
  return undefined
}

async function startSession(opts: UploadOptions, desc: Descriptor): Promise<Session> {
  const res = await opts.client.request({
    method: 'POST',
    url: `/v2/${opts.repository}/blobs/uploads/`,
    body: Buffer.alloc(0),
    scope: opts.scope,
    retry: true
  })
  if (res.status !== 202 && res.status !== 201)
    return opts.client.fail(res, 'POST', `starting the upload of ${desc.digest}`)
  await drain(res)
  const location = header(res, 'location')
  if (!location)
    throw new OciError(`${opts.client.registry}: the registry opened an upload without a Location`)
  return {
    location: resolveLocation(location, res.url),
    minChunk: Number(header(res, 'oci-chunk-min-length')) || 0
  }
}

async function uploadChunked(
  opts: UploadOptions,
  desc: Descriptor,
  session: Session,
  open: (start: number) => Promise<Readable>,
  chunkSize: number
): Promise<void> {
  const size = Math.max(chunkSize, session.minChunk)
  let location = session.location
  let offset = 0
  let resumes = 0
  let cursor = new ByteCursor(await open(0))
  try {
    while (offset < desc.size) {
      const length = Math.min(size, desc.size - offset)
      let body: Readable | undefined = cursor.take(length)
      let res: HttpResponse
      try {
        res = await opts.client.request({
          method: 'PATCH',
          url: location,
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Range': `${offset}-${offset + length - 1}`,
            'Content-Length': String(length)
          },
          // One stream per chunk; an auth retry of the same chunk reads it afresh from the source.
          body: async () => {
            const b = body ?? (cursor = new ByteCursor(await open(offset))).take(length)
            body = undefined
            return b
          },
          scope: opts.scope,
          retry: false
        })
        if (res.status !== 202 && res.status !== 201 && res.status !== 204)
          await opts.client.fail(res, 'PATCH', `uploading ${desc.digest}`)
      } catch (err) {
        // 416: the registry holds another length than we thought; the whole blob starts over.
        if (err instanceof RegistryError && err.status === 416) err.retryable = true
        if (!isRetryableTransferError(err) || resumes >= opts.retry.retries) throw err
        resumes++
        await sleep(
          backoff(resumes, opts.retry, err instanceof RegistryError ? err.retryAfter : undefined)
        )
        const held = await heldBytes(opts, location, desc)
        opts.onRetry?.(
          `chunk at ${offset} of ${desc.digest} failed (${(err as Error).message}); resuming from ${held.offset}`
        )
        location = held.location
        offset = held.offset
        await cursor.close()
        cursor = new ByteCursor(await open(offset))
        continue
      }
      await drain(res)
      const next = header(res, 'location')
      if (next) location = resolveLocation(next, res.url)
      offset += length
    }
  } finally {
    await cursor.close()
  }
  const res = await opts.client.request({
    method: 'PUT',
    url: withDigest(location, desc.digest),
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' },
    body: Buffer.alloc(0),
    scope: opts.scope,
    retry: false
  })
  if (res.status !== 201)
    return opts.client.fail(res, 'PUT', `finishing the upload of ${desc.digest}`)
  await drain(res)
}

/** Asks the registry how much of an upload it holds: `Range: 0-N` means resume at N+1. */
async function heldBytes(
  opts: UploadOptions,
  location: URL,
  desc: Descriptor
): Promise<{ location: URL; offset: number }> {
  const res = await opts.client.request({ method: 'GET', url: location, scope: opts.scope })
  if (res.status !== 204 && res.status !== 200) {
    const err = await opts.client
      .fail(res, 'GET', `resuming the upload of ${desc.digest}`)
      .catch((e: unknown) => e)
    // The session is gone: the whole blob starts over.
    if (err instanceof RegistryError) err.retryable = true
    throw err
  }
  await drain(res)
  // `0-N` means N+1 bytes are held; `0-0` is ambiguous (distribution says it for an empty
  // upload too), so it is taken as nothing held.
  const range = /^(?:bytes=)?0-(\d+)$/.exec(header(res, 'range') ?? '')
  const end = range ? Number(range[1]) : 0
  const next = header(res, 'location')
  return {
    location: next ? resolveLocation(next, res.url) : location,
    offset: end > 0 ? end + 1 : 0
  }
}
