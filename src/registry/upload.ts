import type { BlobCursor } from '../content/blob-cursor.js'
import { OciError, RegistryError } from '../errors/errors.js'
import type { Content } from '../content/sink.js'
import type { Descriptor } from '../oci/types.js'
import { drain, header, type HttpResponse, type PumpBody } from '../transport/http.js'
import { backoff, isRetryableTransferError, sleep, type RetryPolicy } from '../transport/retry.js'
import type { RegistryClient } from './client.js'
import { FALLBACK_CHUNK, limitIn, type UploadLimits } from './upload-limits.js'

export interface UploadOptions {
  client: RegistryClient
  repository: string
  scope: string
  /** Blobs larger than this go up in PATCH chunks of this size; 0 never chunks unless the registry insists. */
  chunkSize: number
  /** What this registry host has shown of its limits during the run; shared by its repositories. */
  limits: UploadLimits
  retry: RetryPolicy
  onRetry?: (line: string) => void
  /** Repositories of the same registry that may hold the blob already: mount it from the first that does. */
  mountFrom?: string[]
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
function resolveLocation(location: string, base: URL): URL {
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

/**
 * A blob's bytes as request bodies: the whole blob, or its next chunk. A body sent again (after
 * an auth challenge) or a chunk resumed elsewhere reopens the content where that body starts.
 */
class BlobBodies {
  readonly #content: Content
  #cursor?: BlobCursor

  constructor(content: Content) {
    this.#content = content
  }

  /** Bytes [offset, offset + length). */
  range(offset: number, length: number): Buffer | PumpBody {
    const content = this.#content
    if (Buffer.isBuffer(content)) return content.subarray(offset, offset + length)
    return {
      pump: async (sink) => {
        if (this.#cursor?.position !== offset) {
          await this.#cursor?.close()
          this.#cursor = undefined
          this.#cursor = await content.open(offset)
        }
        await this.#cursor.pump(sink, length)
      }
    }
  }

  async close(): Promise<void> {
    await this.#cursor?.close()
    this.#cursor = undefined
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
  const bodies = new BlobBodies(content)
  try {
    return await upload(opts, desc, bodies)
  } finally {
    await bodies.close()
  }
}

async function upload(
  opts: UploadOptions,
  desc: Descriptor,
  bodies: BlobBodies
): Promise<'uploaded' | 'mounted'> {
  let session: Session | undefined
  const sources = opts.mountFrom ?? []
  for (const [i, from] of sources.entries()) {
    const mounted = await tryMount(opts, desc, from)
    if (mounted === 'mounted') return 'mounted'
    // A failed mount opens an ordinary session: the upload uses the last one, others are cancelled.
    if (mounted && i < sources.length - 1) await cancelSession(opts, mounted)
    else session = mounted
  }
  session ??= await startSession(opts, desc)
  const { limits } = opts
  const tooLarge = limits.maxBody !== undefined && desc.size > limits.maxBody
  const chunked = tooLarge || (opts.chunkSize > 0 && desc.size > opts.chunkSize)
  if (!chunked) {
    const res = await opts.client.request({
      method: 'PUT',
      url: withDigest(session.location, desc.digest),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
      body: bodies.range(0, desc.size),
      scope: opts.scope,
      retry: false
    })
    if (res.status === 201) {
      await drain(res)
      return 'uploaded'
    }
    // Too large for one request (a proxy's body limit): this host gets chunks from now on.
    if (res.status !== 413) return opts.client.fail(res, 'PUT', `uploading ${desc.digest}`)
    await drain(res)
    limits.maxBody = Math.min(limits.maxBody ?? Infinity, desc.size - 1)
    opts.onRetry?.(
      `${opts.client.registry} refused ${desc.digest} in one request (HTTP 413); sending it in chunks of ${FALLBACK_CHUNK} bytes`
    )
    session = await startSession(opts, desc)
  }
  await uploadChunked(opts, desc, session, bodies, chunkSizeFor(opts, tooLarge || !opts.chunkSize))
  return 'uploaded'
}

/** The chunk size to start with: the input's, or the fallback once one request was refused; never above a limit learned. */
function chunkSizeFor(opts: UploadOptions, fallback: boolean): number {
  const wanted = fallback
    ? Math.min(opts.chunkSize || FALLBACK_CHUNK, FALLBACK_CHUNK)
    : opts.chunkSize
  return Math.min(wanted, opts.limits.maxChunk ?? Infinity)
}

/**
 * A PATCH refused for its size (413, or GHCR's 416 naming its limit): the size to use from now
 * on, learned for the host; undefined when the refusal says nothing about size.
 */
function smallerChunk(opts: UploadOptions, err: RegistryError, length: number): number | undefined {
  const named = limitIn(err.errors.map((e) => e.message).join(' ') + ' ' + err.message)
  let next: number | undefined
  if (named !== undefined && named < length) next = named
  else if (err.status === 413) next = Math.floor(length / 2)
  if (next === undefined || next < 1) return undefined
  opts.limits.maxChunk = Math.min(opts.limits.maxChunk ?? Infinity, next)
  return opts.limits.maxChunk
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

/** Gives up an upload session nobody will use (best effort: the registry expires it anyway). */
async function cancelSession(opts: UploadOptions, session: Session): Promise<void> {
  try {
    const res = await opts.client.request({
      method: 'DELETE',
      url: session.location,
      scope: opts.scope,
      retry: false
    })
    await drain(res)
  } catch {
    // Left to expire.
  }
}

/**
 * Opens an upload session. The first one of a repository goes alone, so that a repository which
 * refuses uploads (ECR's "does not exist") is asked once, not once per blob in flight.
 */
async function startSession(opts: UploadOptions, desc: Descriptor): Promise<Session> {
  const first = (opts.limits.firstSession ??= new Map())
  const gate = first.get(opts.repository)
  if (gate) {
    const refused = await gate
    if (refused !== undefined) throw refused
    return openSession(opts, desc)
  }
  let settle: (refused: unknown) => void = () => {}
  first.set(opts.repository, new Promise((resolve) => (settle = resolve)))
  try {
    const session = await openSession(opts, desc)
    settle(undefined)
    return session
  } catch (err) {
    settle(isRetryableTransferError(err) ? undefined : err)
    throw err
  }
}

async function openSession(opts: UploadOptions, desc: Descriptor): Promise<Session> {
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
  bodies: BlobBodies,
  chunkSize: number
): Promise<void> {
  let size = Math.max(chunkSize, session.minChunk)
  let location = session.location
  let offset = 0
  let resumes = 0
  while (offset < desc.size) {
    const length = Math.min(size, desc.size - offset)
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
        body: bodies.range(offset, length),
        scope: opts.scope,
        retry: false
      })
      if (res.status !== 202 && res.status !== 201 && res.status !== 204)
        await opts.client.fail(res, 'PATCH', `uploading ${desc.digest}`)
    } catch (err) {
      const smaller =
        err instanceof RegistryError && (err.status === 413 || err.status === 416)
          ? smallerChunk(opts, err, length)
          : undefined
      if (smaller !== undefined) {
        if (smaller < session.minChunk) {
          throw new OciError(
            `${opts.client.registry}: the registry takes chunks of at most ${smaller} bytes but asks for at least ${session.minChunk}`,
            { hint: 'set chunk-size: 0 so each blob goes up in one request' }
          )
        }
        // Not a fault: the next request differs (smaller), so it does not count as a retry.
        size = smaller
        opts.onRetry?.(
          `${opts.client.registry} refused a chunk of ${length} bytes (HTTP ${(err as RegistryError).status}); sending chunks of ${size} bytes`
        )
        const held = await heldBytes(opts, location, desc)
        location = held.location
        offset = held.offset
        continue
      }
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
      continue
    }
    await drain(res)
    const next = header(res, 'location')
    if (next) location = resolveLocation(next, res.url)
    offset += length
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
