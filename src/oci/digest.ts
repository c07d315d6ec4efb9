import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { DigestMismatchError, OciError, SizeMismatchError } from '../errors/errors.js'

const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 }

export interface ParsedDigest {
  algorithm: 'sha256' | 'sha512'
  hex: string
}

/** Parses `alg:hex`, refusing algorithms we cannot verify and anything that could escape a path. */
export function parseDigest(digest: string): ParsedDigest {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest)
  if (!m || m[2].length !== HEX_LENGTH[m[1]]) {
    throw new OciError(`invalid digest "${digest}"`, {
      hint: 'expected sha256:<64 hex> or sha512:<128 hex>'
    })
  }
  return { algorithm: m[1] as ParsedDigest['algorithm'], hex: m[2] }
}

export function isDigest(s: string): boolean {
  return /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(s)
}

export function digestOf(data: Buffer, algorithm: ParsedDigest['algorithm'] = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`
}

/** Checks a whole buffer against its descriptor's digest and size. */
export function verifyBuffer(
  data: Buffer,
  expected: { digest: string; size: number },
  what: string,
  hint?: string
): void {
  if (data.length !== expected.size)
    throw new SizeMismatchError(expected.size, data.length, what, hint)
  const actual = digestOf(data, parseDigest(expected.digest).algorithm)
  if (actual !== expected.digest) throw new DigestMismatchError(expected.digest, actual, what, hint)
}

/**
 * A pass-through stream that hashes and counts bytes as they flow, and fails the stream at its
 * end (or as soon as it runs long) when they do not match the descriptor. Lets a blob be verified
 * while it is uploaded or written, so it is read only once.
 */
export class VerifyingStream extends Transform {
  readonly #hash: Hash
  readonly #expected: { digest: string; size: number }
  readonly #what: string
  #seen = 0

  constructor(expected: { digest: string; size: number }, what: string) {
    super()
    this.#expected = expected
    this.#what = what
    this.#hash = createHash(parseDigest(expected.digest).algorithm)
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#seen += chunk.length
    if (this.#seen > this.#expected.size) {
      done(new SizeMismatchError(this.#expected.size, this.#seen, this.#what))
      return
    }
    this.#hash.update(chunk)
    done(null, chunk)
  }

  override _flush(done: TransformCallback): void {
    if (this.#seen !== this.#expected.size) {
      done(new SizeMismatchError(this.#expected.size, this.#seen, this.#what))
      return
    }
    const actual = `${parseDigest(this.#expected.digest).algorithm}:${this.#hash.digest('hex')}`
    done(
      actual === this.#expected.digest
        ? null
        : new DigestMismatchError(this.#expected.digest, actual, this.#what)
    )
  }
}
