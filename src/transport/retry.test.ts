import { RegistryError, ConnectionError } from '../errors/errors.js'
import { backoff, isTransient, Tries } from './retry.js'

const policy = { retries: 2, baseMs: 1, maxMs: 2, maxRetryAfterMs: 50 }

describe('Tries', () => {
  it('allows the policy’s retries, telling each, then refuses without waiting', async () => {
    const told: string[] = []
    const tries = new Tries(policy, (l) => told.push(l))
    expect(await tries.again('one')).toBe(true)
    expect(tries.canRetry).toBe(true)
    expect(await tries.again('two')).toBe(true)
    expect(tries.canRetry).toBe(false)
    expect(await tries.again('three')).toBe(false)
    expect(told).toEqual(['one', 'two'])
  })

  it('counts only failures in a row once the work moves forward', async () => {
    const tries = new Tries(policy)
    for (let i = 0; i < 10; i++) {
      expect(await tries.again(undefined)).toBe(true)
      tries.progressed()
    }
    expect(await tries.again(undefined)).toBe(true)
    expect(await tries.again(undefined)).toBe(true)
    expect(await tries.again(undefined)).toBe(false)
  })

  it('waits what the registry asks, within the cap', async () => {
    const started = Date.now()
    expect(await new Tries(policy).again(undefined, '0.03')).toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(25)
    expect(backoff(1, policy, '3600')).toBe(50)
  })

  it('retries: 0 tries once', async () => {
    expect(await new Tries({ ...policy, retries: 0 }).again('x')).toBe(false)
  })
})

describe('isTransient', () => {
  it('takes a typed error’s word, fixed when it was made', () => {
    expect(isTransient(new RegistryError('GET', 'u', 503, [], { retryable: true }))).toBe(true)
    expect(isTransient(new RegistryError('GET', 'u', 404, []))).toBe(false)
    expect(isTransient(new ConnectionError('reset', { retryable: true }))).toBe(true)
    expect(isTransient(new ConnectionError('bad certificate'))).toBe(false)
  })

  it('reads other errors as network faults or not', () => {
    expect(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true)
    expect(isTransient(new Error('aborted'))).toBe(true)
    expect(isTransient(new Error('EACCES'))).toBe(false)
    expect(isTransient('ECONNRESET')).toBe(false)
  })
})
