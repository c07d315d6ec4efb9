import { ConnectionError, RegistryError } from '../errors/errors.js'

/** How failed requests and transfers are tried again. */
export interface RetryPolicy {
  /** Tries after the first; 0 turns retrying off. */
  retries: number
  /** First backoff; doubles each time, with jitter. */
  baseMs: number
  /** Cap of one backoff. */
  maxMs: number
  /** Cap of a wait the registry asks for with Retry-After. */
  maxRetryAfterMs: number
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 5,
  baseMs: 200,
  maxMs: 5_000,
  maxRetryAfterMs: 60_000
}

/** Statuses worth trying again: timeouts, throttling, server faults. 401 goes through auth instead. */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 ||
    status === 429 ||
    status === 500 ||
    status === 502 ||
    status === 503 ||
    status === 504
  )
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET'
])

/** A connection that failed or a body that was cut: the same request may well succeed. */
export function isNetworkError(err: unknown): boolean {
  // Not `instanceof Error`: errors from node's own modules may come from another realm (jest's vm).
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown; message?: unknown }
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true
  return message === 'aborted' || message === 'socket hang up'
}

/**
 * A fault the same request may well not meet again: a typed error says so itself (fixed when it
 * was made); any other error is transient when it is a network fault (a body cut part way).
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof RegistryError || err instanceof ConnectionError) return err.retryable
  return isNetworkError(err)
}

/** Milliseconds to wait before try `attempt` (1-based): Retry-After when given, else jittered exponential. */
export function backoff(attempt: number, policy: RetryPolicy, retryAfter?: string): number {
  if (retryAfter) {
    const seconds = Number(retryAfter)
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now()
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), policy.maxRetryAfterMs)
  }
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1))
  return exp / 2 + Math.random() * (exp / 2)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * The tries of one piece of work under the policy: a request the client sends again, or the
 * bodies of one blob's upload or download. Each fault is counted by whoever sent the request
 * that met it, and only there, so no retry runs around another.
 */
export class Tries {
  #failures = 0

  constructor(
    readonly policy: RetryPolicy,
    readonly onRetry?: (line: string) => void
  ) {}

  /** Whether the policy allows another try. */
  get canRetry(): boolean {
    return this.#failures < this.policy.retries
  }

  /**
   * Counts a failure: when the policy allows another try, tells `line` (if any) and waits the
   * backoff (the registry's Retry-After when it sent one), then resolves true; else false at once.
   */
  async again(line: string | undefined, retryAfter?: string): Promise<boolean> {
    if (!this.canRetry) return false
    this.#failures++
    if (line !== undefined) this.onRetry?.(line)
    await sleep(backoff(this.#failures, this.policy, retryAfter))
    return true
  }

  /** The work moved forward (a chunk was accepted): only failures in a row count against it. */
  progressed(): void {
    this.#failures = 0
  }
}
