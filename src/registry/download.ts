import { StreamSource, type ChunkSource } from '../content/blob-cursor.js'
import { REGISTRY_MISMATCH_HINT, RegistryError } from '../errors/errors.js'
import { giveSlab } from '../slabs/pool.js'
import { header, type HttpResponse } from '../transport/http.js'
import { isTransient, type Tries } from '../transport/retry.js'

/** A GET of the blob from `offset` on (with a Range header past 0): a 200 or a 206, else it throws. */
export type GetFrom = (offset: number) => Promise<HttpResponse>

function bodyOf(res: HttpResponse): ChunkSource {
  return res.chunks ?? new StreamSource(res.body)
}

/**
 * A blob download in slabs that outlives a cut body: it asks again from the byte it reached,
 * drawing on the blob's tries, and the cursor reading it (which has hashed what came) reads on.
 * The digest check at the end covers every byte whichever answer it came in.
 */
export async function download(get: GetFrom, what: string, tries: Tries): Promise<ChunkSource> {
  let body = bodyOf(await get(0))
  let pos = 0

  const reopen = async (): Promise<void> => {
    const res = await get(pos)
    const next = bodyOf(res)
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '')?.[1]
      if (Number(start) === pos) {
        body = next
        return
      }
      await next.close()
      throw new RegistryError('GET', res.url.origin + res.url.pathname, 206, [], {
        message: `${what}: asked for the bytes from ${pos} on, the registry answered with ${header(res, 'content-range') ?? 'no Content-Range'}`,
        hint: REGISTRY_MISMATCH_HINT
      })
    }
    // A registry that ignores Range sends the whole body again: its first bytes are passed over.
    try {
      for (let skipped = 0; skipped < pos;) {
        const chunk = await next.next(pos - skipped)
        if (!chunk) break // short: the cursor's size check says so
        skipped += chunk.length
        giveSlab(chunk)
      }
    } catch (err) {
      await next.close()
      throw err
    }
    body = next
  }

  return {
    async next(max) {
      for (;;) {
        try {
          const chunk = await body.next(max)
          if (chunk) pos += chunk.length
          return chunk
        } catch (err) {
          const line = `${what}: ${(err as Error).message}; resuming from byte ${pos}`
          if (!isTransient(err) || !(await tries.again(line))) throw err
          await body.close().catch(() => undefined)
          await reopen()
        }
      }
    },
    rest: () => body.rest(),
    close: () => body.close()
  }
}
