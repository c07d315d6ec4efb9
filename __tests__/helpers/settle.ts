// Small async helpers the tests share.
import type { Readable } from 'node:stream'

/** What a promise rejected with, or undefined when it resolved. */
export const caught = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e
  )

/** A stream's whole content, as UTF-8. */
export async function streamText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString()
}
