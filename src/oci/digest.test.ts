// Digests: what is one, and verification of a buffer and of a stream.
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DigestMismatchError, OciError, SizeMismatchError } from '../errors/errors.js'
import { readAll } from '../content/source.js'
import { digestOf, isDigest, parseDigest, verifyBuffer, VerifyingStream } from './digest.js'

describe('digests', () => {
  const hex64 = 'a'.repeat(64)
  it('refuses digests that could escape a path', () => {
    expect(() => parseDigest('sha256:../../etc/passwd')).toThrow(/invalid digest/)
    expect(() => parseDigest(`md5:${'a'.repeat(32)}`)).toThrow(/invalid digest/)
  })
  it('takes only a whole digest of the right length, and says what it expected', () => {
    expect(parseDigest(`sha256:${hex64}`)).toEqual({ algorithm: 'sha256', hex: hex64 })
    expect(parseDigest(`sha512:${hex64}${hex64}`).algorithm).toBe('sha512')
    for (const bad of [
      `sha256:${hex64.slice(1)}`,
      `sha512:${hex64}`,
      `x/sha256:${hex64}`,
      `sha256:${hex64}/../x`
    ]) {
      expect(() => parseDigest(bad)).toThrow(new OciError(`invalid digest "${bad}"`, { hint: 'x' }))
      try {
        parseDigest(bad)
      } catch (err) {
        expect((err as OciError).hint).toBe('expected sha256:<64 hex> or sha512:<128 hex>')
      }
      expect(isDigest(bad)).toBe(false)
    }
    expect(isDigest(`sha256:${hex64}`)).toBe(true)
    expect(isDigest(`sha512:${hex64}${hex64}`)).toBe(true)
    expect(isDigest(`sha512:${'g'.repeat(128)}`)).toBe(false)
    expect(isDigest(`sha512:${hex64}`)).toBe(false)
  })
  it('a buffer of the wrong length is a size mismatch, before any hashing', () => {
    const b = Buffer.from('abc')
    expect(() => verifyBuffer(b, { digest: digestOf(b), size: 4 }, 'x')).toThrow(SizeMismatchError)
    expect(() => verifyBuffer(b, { digest: digestOf(b), size: 3 }, 'x')).not.toThrow()
    const other = { digest: digestOf(Buffer.from('abd')), size: 3 }
    expect(() => verifyBuffer(b, other, 'x')).toThrow(DigestMismatchError)
  })
  const data = Buffer.from('hello, verifying stream')
  const desc = { digest: digestOf(data), size: data.length }
  const run = (input: Buffer, expected: { digest: string; size: number }): Promise<Buffer> => {
    const v = new VerifyingStream(expected, 'test blob')
    return Promise.all([
      pipeline(Readable.from([input]), v).catch((e: unknown) => Promise.reject(e)),
      readAll(v, 1 << 20, 'x')
    ]).then((r) => r[1])
  }
  it('passes matching bytes through', async () => {
    expect(await run(data, desc)).toEqual(data)
  })
  it('fails on other bytes of the same size', async () => {
    const other = Buffer.from(data)
    other[0] ^= 1
    await expect(run(other, desc)).rejects.toBeInstanceOf(DigestMismatchError)
  })
  it('fails a long body as soon as it runs long, passing nothing past the size', async () => {
    const v = new VerifyingStream(desc, 'test blob')
    const passed: Buffer[] = []
    v.on('data', (c: Buffer) => passed.push(c))
    const chunks = [data, Buffer.from('more'), Buffer.from('and more')]
    await expect(pipeline(Readable.from(chunks), v)).rejects.toBeInstanceOf(SizeMismatchError)
    expect(Buffer.concat(passed)).toEqual(data)
  })
  it('fails on a short or long body', async () => {
    await expect(run(data.subarray(1), desc)).rejects.toBeInstanceOf(SizeMismatchError)
    await expect(run(Buffer.concat([data, Buffer.from('x')]), desc)).rejects.toBeInstanceOf(
      SizeMismatchError
    )
  })
})
