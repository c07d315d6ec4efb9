/**
 * Typed errors. Each carries a one-line message naming what went wrong and, where there is one,
 * a hint naming the fix; the adapters print `message` then `hint` on one line.
 */
export class OciError extends Error {
  readonly hint?: string
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.hint = options.hint
  }
}

/** Bad action input or CLI flag. */
export class InputError extends OciError {}

/** A layout that cannot be read or is not an OCI layout. */
export class LayoutError extends OciError {}

/** A tag, digest or blob that is not where it should be. */
export class NotFoundError extends OciError {}

/** A digest the graph names but the source does not hold. */
export class MissingContentError extends NotFoundError {
  constructor(
    readonly digest: string,
    message: string,
    options: { hint?: string } = {}
  ) {
    super(message, options)
  }
}

/** What to do about bytes that contradict their descriptor, by where they came from. */
const LAYOUT_MISMATCH_HINT =
  'the layout is corrupt or was modified after it was written; rebuild it'
export const REGISTRY_MISMATCH_HINT =
  'the registry (or a proxy in front of it) answered with other bytes than the digest names: try again, and if it persists report it to whoever runs the registry'

/** Content whose bytes do not hash to the digest, or whose length differs from the descriptor. */
export class DigestMismatchError extends OciError {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what: string,
    hint = LAYOUT_MISMATCH_HINT
  ) {
    super(`${what}: content does not match its digest (expected ${expected}, got ${actual})`, {
      hint
    })
  }
}

export class SizeMismatchError extends OciError {
  constructor(
    readonly expected: number,
    readonly actual: number,
    what: string,
    hint = LAYOUT_MISMATCH_HINT
  ) {
    super(`${what}: ${actual} bytes, but its descriptor says ${expected}`, { hint })
  }
}

/** One `errors[]` entry of a distribution-spec error body. */
export interface RegistryErrorDetail {
  code: string
  message: string
  detail?: unknown
}

/** A registry answered with a status we did not expect; carries its error codes. */
export class RegistryError extends OciError {
  /** A transient fault (throttling, a server fault): the same request may succeed later. */
  readonly retryable: boolean
  /** The registry's Retry-After, if it sent one. */
  readonly retryAfter?: string

  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly errors: RegistryErrorDetail[],
    options: { hint?: string; message?: string; retryable?: boolean; retryAfter?: string } = {}
  ) {
    const detail = errors.length
      ? errors.map((e) => `${e.code}: ${e.message}`).join('; ')
      : `HTTP ${status}`
    super(options.message ?? `${method} ${url}: ${detail}`, { hint: options.hint })
    this.retryable = options.retryable ?? false
    this.retryAfter = options.retryAfter
  }

  get code(): string | undefined {
    return this.errors[0]?.code
  }
}

/** The registry refused our credentials, or asked for some we do not have. */
export class AuthError extends OciError {}

/** The registry could not be reached, or the connection failed. */
export class ConnectionError extends OciError {
  /** A network fault the same request may not meet again (a reset), unlike a refused certificate. */
  readonly retryable: boolean

  constructor(
    message: string,
    options: { hint?: string; cause?: unknown; retryable?: boolean } = {}
  ) {
    super(message, options)
    this.retryable = options.retryable ?? false
  }
}

/** Joins an error's message and hint into the single line users see. */
export function describeError(err: unknown): string {
  if (err instanceof OciError) return err.hint ? `${err.message} (${err.hint})` : err.message
  if (typeof err === 'object' && err !== null && typeof (err as Error).message === 'string')
    return (err as Error).message
  return String(err)
}
