import type { ContentCursor } from '../content/blob-cursor.js'
import { OciError, RegistryError } from '../errors/errors.js'
import type { Content } from '../content/sink.js'
import type { Descriptor } from '../oci/types.js'
import { drain, header, type HttpResponse, type PumpBody } from '../transport/http.js'
import { isTransient } from '../transport/retry.js'
import { FALLBACK_CHUNK, limitIn } from './upload-limits.js'
import {
  heldBytes,
  resolveLocation,
  startSession,
  cancelSession,
  tryMount,
  type Session,
  type Upload,
  type UploadOptions
} from './upload-session.js'

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
  #cursor?: ContentCursor

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
 * holds (GET on the session gives `Range: 0-N`) and the upload resumes from there; a PUT of the
 * whole blob that fails goes again, from a fresh read, in a new session. Each fault is tried
 * again where the request that met it was sent: the client resends its own requests (POST, GET),
 * the upload its bodies, under the blob's Tries; nothing retries around a retry.
 */
export async function uploadBlob(
  options: UploadOptions,
  desc: Descriptor,
  content: Content
): Promise<'uploaded' | 'mounted' | 'exists'> {
  const bodies = new BlobBodies(content)
  try {
    return await upload({ ...options, tries: options.client.tries() }, desc, bodies)
  } finally {
    await bodies.close()
  }
}

/** After a fault on a body the upload sent: whether to send again (after the backoff). */
async function again(opts: Upload, err: unknown, line?: string): Promise<boolean> {
  if (!isTransient(err)) return false
  return opts.tries.again(line, err instanceof RegistryError ? err.retryAfter : undefined)
}

/** One PUT of the whole blob: 201, or 413 (too large for one request); anything else throws. */
async function sendWhole(
  opts: Upload,
  desc: Descriptor,
  session: Session,
  bodies: BlobBodies
): Promise<'uploaded' | 'too-large'> {
  const res = await opts.client.request({
    method: 'PUT',
    url: withDigest(session.location, desc.digest),
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
    body: bodies.range(0, desc.size),
    scope: opts.scope,
    retry: false
  })
  if (res.status !== 201 && res.status !== 413)
    return opts.client.fail(res, 'PUT', `uploading ${desc.digest}`)
  await drain(res)
  return res.status === 201 ? 'uploaded' : 'too-large'
}

async function upload(
  opts: Upload,
  desc: Descriptor,
  bodies: BlobBodies
): Promise<'uploaded' | 'mounted' | 'exists'> {
  let session: Session | undefined
  if (opts.askFirst) {
    // The request that opens the upload also asks whether the repository holds the blob.
    const asked = await startSession(opts, desc, true)
    if (asked === 'exists') return 'exists'
    session = asked
  }
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
    let sent: 'uploaded' | 'too-large'
    for (;;) {
      try {
        sent = await sendWhole(opts, desc, session, bodies)
        break
      } catch (err) {
        const line = `${desc.digest}: ${(err as Error).message}; sending it again`
        if (!(await again(opts, err, line))) throw err
      }
      session = await startSession(opts, desc)
    }
    if (sent === 'uploaded') return 'uploaded'
    // Too large for one request (a proxy's body limit): this host gets chunks from now on.
    limits.maxBody = Math.min(limits.maxBody ?? Infinity, desc.size - 1)
    opts.client.noteRetry(
      `${opts.client.registry} refused ${desc.digest} in one request (HTTP 413); sending it in chunks of ${FALLBACK_CHUNK} bytes`
    )
    session = await startSession(opts, desc)
  }
  await uploadChunked(opts, desc, session, bodies, chunkSizeFor(opts, tooLarge || !opts.chunkSize))
  return 'uploaded'
}

/** The chunk size to start with: the input's, or the fallback once one request was refused; never above a limit learned. */
function chunkSizeFor(opts: Upload, fallback: boolean): number {
  const wanted = fallback
    ? Math.min(opts.chunkSize || FALLBACK_CHUNK, FALLBACK_CHUNK)
    : opts.chunkSize
  return Math.min(wanted, opts.limits.maxChunk ?? Infinity)
}

/**
 * A PATCH refused for its size (413, or GHCR's 416 naming its limit): the size to use from now
 * on, learned for the host; undefined when the refusal says nothing about size.
 */
function smallerChunk(opts: Upload, err: RegistryError, length: number): number | undefined {
  const named = limitIn(err.errors.map((e) => e.message).join(' ') + ' ' + err.message)
  let next: number | undefined
  if (named !== undefined && named < length) next = named
  else if (err.status === 413) next = Math.floor(length / 2)
  if (next === undefined || next < 1) return undefined
  opts.limits.maxChunk = Math.min(opts.limits.maxChunk ?? Infinity, next)
  return opts.limits.maxChunk
}

async function uploadChunked(
  opts: Upload,
  desc: Descriptor,
  session: Session,
  bodies: BlobBodies,
  chunkSize: number
): Promise<void> {
  let size = Math.max(chunkSize, session.minChunk)
  let location = session.location
  let offset = 0
  /** Goes on from what the registry holds, or from byte 0 in a new session when it lost this one. */
  const resume = async (): Promise<void> => {
    const held = await heldBytes(opts, location, desc)
    if ('offset' in held) {
      ;({ location, offset } = held)
      return
    }
    const line = `${desc.digest}: ${(held.lost as Error).message}; starting its upload over`
    if (!(held.lost instanceof RegistryError) || !(await opts.tries.again(line))) throw held.lost
    location = (await startSession(opts, desc)).location
    offset = 0
  }
  for (;;) {
    if (offset === desc.size) {
      // The chunks are in: the PUT that names the digest closes the upload.
      try {
        await finish(opts, desc, location)
        return
      } catch (err) {
        if (!(await again(opts, err))) throw err
        const failedAt = offset
        await resume()
        opts.client.noteRetry(
          `finishing ${desc.digest} failed (${(err as Error).message}); going on from ${failedAt === offset ? 'the end' : offset}`
        )
        continue
      }
    }
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
        opts.client.noteRetry(
          `${opts.client.registry} refused a chunk of ${length} bytes (HTTP ${(err as RegistryError).status}); sending chunks of ${size} bytes`
        )
        await resume()
        continue
      }
      // 416: the registry holds another length than we thought; it says which.
      const mismatch = err instanceof RegistryError && err.status === 416
      if (!(mismatch ? await opts.tries.again(undefined) : await again(opts, err))) throw err
      const failedAt = offset
      await resume()
      opts.client.noteRetry(
        `chunk at ${failedAt} of ${desc.digest} failed (${(err as Error).message}); resuming from ${offset}`
      )
      continue
    }
    await drain(res)
    const next = header(res, 'location')
    if (next) location = resolveLocation(next, res.url)
    offset += length
    opts.tries.progressed()
  }
}

async function finish(opts: Upload, desc: Descriptor, location: URL): Promise<void> {
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
