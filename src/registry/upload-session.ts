// Upload sessions: opening one (the first of a repository alone), mounting from another
// repository, giving one up, and asking one what it holds.
import { OciError } from '../errors/errors.js'
import type { Descriptor } from '../oci/types.js'
import { drain, header, type HttpResponse } from '../transport/http.js'
import type { Tries } from '../transport/retry.js'
import type { RegistryClient } from './client.js'
import type { UploadLimits } from './upload-limits.js'

export interface UploadOptions {
  client: RegistryClient
  repository: string
  scope: string
  /** Blobs larger than this go up in PATCH chunks of this size; 0 never chunks unless the registry insists. */
  chunkSize: number
  /** What this registry host has shown of its limits during the run; shared by its repositories. */
  limits: UploadLimits
  /** Repositories of the same registry that may hold the blob already: mount it from the first that does. */
  mountFrom?: string[]
  /**
   * Ask whether this repository holds the blob with the request that opens the upload (a mount
   * from itself), instead of a HEAD before it. Not with `mountFrom`, whose mounts come after a HEAD.
   */
  askFirst?: boolean
}

export interface Session {
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

/** The session an answer opened (its Location), or undefined when it names none. */
function sessionOf(res: HttpResponse): Session | undefined {
  const location = header(res, 'location')
  if (!location) return undefined
  return {
    location: resolveLocation(location, res.url),
    minChunk: Number(header(res, 'oci-chunk-min-length')) || 0
  }
}

/** POST ?mount=&from=: links the blob from `from` (201), or opens an upload session (202). */
function postMount(
  opts: Upload,
  desc: Descriptor,
  from: string,
  scope: string
): Promise<HttpResponse> {
  const url = new URL(`/v2/${opts.repository}/blobs/uploads/`, opts.client.origin)
  url.searchParams.set('mount', desc.digest)
  url.searchParams.set('from', from)
  return opts.client.request({ method: 'POST', url, body: Buffer.alloc(0), scope, retry: true })
}

/** An upload under way: its options and the tries every request of it draws from. */
export interface Upload extends UploadOptions {
  tries: Tries
}

/**
 * Asks the registry to link a blob another repository of it already holds: 201 means done,
 * 202 opens an ordinary upload session. Any failure falls back to a plain upload.
 */
export async function tryMount(
  opts: Upload,
  desc: Descriptor,
  from: string
): Promise<'mounted' | Session | undefined> {
  try {
    // Reading the source repository needs its own pull scope.
    const res = await postMount(opts, desc, from, `${opts.scope} repository:${from}:pull`)
    await drain(res)
    if (res.status === 201) return 'mounted'
    if (res.status === 202) return sessionOf(res)
  } catch {
    // A registry that cannot mount still takes an upload.
  }
  return undefined
}

/** Gives up an upload session nobody will use (best effort: the registry expires it anyway). */
export async function cancelSession(opts: Upload, session: Session): Promise<void> {
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
export async function startSession(opts: Upload, desc: Descriptor): Promise<Session>
export async function startSession(
  opts: Upload,
  desc: Descriptor,
  asking: true
): Promise<Session | 'exists'>
export async function startSession(
  opts: Upload,
  desc: Descriptor,
  asking = false
): Promise<Session | 'exists'> {
  const opener = asking ? askAndOpen : openSession
  const first = (opts.limits.firstSession ??= new Map())
  const gate = first.get(opts.repository)
  if (gate) {
    const refused = await gate
    if (refused !== undefined) throw refused
    return opener(opts, desc)
  }
  let settle: (refused: unknown) => void = () => {}
  first.set(opts.repository, new Promise((resolve) => (settle = resolve)))
  try {
    const session = await opener(opts, desc)
    settle(undefined)
    return session
  } catch (err) {
    // The client tried the POST as often as the policy allows: later blobs fail with its error.
    settle(err)
    throw err
  }
}

/**
 * Opens an upload session with a mount from the repository itself, which asks whether it holds
 * the blob in the same request: 201, it does; 202, the session. A registry that refuses the form
 * is asked the plain way, and from then on by HEAD (`noAskFirst`).
 */
async function askAndOpen(opts: Upload, desc: Descriptor): Promise<Session | 'exists'> {
  if (!opts.limits.noAskFirst) {
    const res = await postMount(opts, desc, opts.repository, opts.scope)
    // What a plain POST would meet too (a busy or rate-limiting registry, after the client's
    // retries) fails as it would; any other refusal is of the mount form.
    if (res.status >= 500 || res.status === 429)
      return opts.client.fail(res, 'POST', `starting the upload of ${desc.digest}`)
    await drain(res)
    if (res.status === 201) return 'exists'
    const session = res.status === 202 ? sessionOf(res) : undefined
    if (session) return session
    opts.limits.noAskFirst = true
  }
  return openSession(opts, desc)
}

async function openSession(opts: Upload, desc: Descriptor): Promise<Session> {
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
  const session = sessionOf(res)
  if (!session)
    throw new OciError(`${opts.client.registry}: the registry opened an upload without a Location`)
  return session
}

/**
 * Asks the registry how much of an upload it holds: `Range: 0-N` means resume at N+1. Any other
 * answer means the session is lost, and says why.
 */
export async function heldBytes(
  opts: Upload,
  location: URL,
  desc: Descriptor
): Promise<{ location: URL; offset: number } | { lost: unknown }> {
  const res = await opts.client.request({
    method: 'GET',
    url: location,
    scope: opts.scope
  })
  if (res.status !== 204 && res.status !== 200) {
    const why = 'resuming the upload of ' + desc.digest
    return { lost: await opts.client.fail(res, 'GET', why).catch((e: unknown) => e) }
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
