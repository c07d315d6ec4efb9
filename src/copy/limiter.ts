/** Runs at most `limit` tasks at once; the rest wait in order. */
export function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0
  const queue: (() => void)[] = []
  const next = (): void => {
    active--
    queue.shift()?.()
  }
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve))
    active++
    try {
      return await task()
    } finally {
      next()
    }
  }
}

/**
 * Every promise's value once all have settled, or the first failure in their order: nothing is
 * left running behind an error.
 */
export async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const all = await Promise.allSettled(promises)
  const failed = all.find((s) => s.status === 'rejected')
  if (failed) throw failed.reason
  return all.map((s) => (s as PromiseFulfilledResult<T>).value)
}
