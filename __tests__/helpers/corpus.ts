// The layouts every test can count on: made by the suite's global set-up
// (__tests__/setup/corpus.mjs), never read from ../shared.
import { existsSync } from 'node:fs'
import path from 'node:path'

export const CORPUS_DIR = path.resolve('.cache', 'corpus')

/**
 * A BuildKit-style `type=oci` tar: an index of linux/amd64 and linux/arm64 sharing a base layer,
 * one attestation manifest per platform, index.json entries tagged v1 and latest.
 */
export const BUILDX = path.join(CORPUS_DIR, 'buildx-style-multiarch-attest.tar')
/** Its digest: the generator is deterministic, and the set-up would fail if this changed. */
export const BUILDX_DIGEST =
  'sha256:23bb1d8b93f940e7dce8026b235db15db51995f93928623560a27df9e668e1ae'

/** The extra corpus (../shared/fixtures, or OCI_FIXTURES): real layouts from other tools, when present. */
export const SHARED_LAYOUTS = path.resolve(
  process.env.OCI_FIXTURES ?? '../shared/fixtures',
  'layouts'
)
export const HAVE_SHARED = existsSync(SHARED_LAYOUTS)
const WHY = ' [skipped: needs ../shared/fixtures, the extra corpus]'

/** `it` for a test on the extra corpus; without it, a skip that says why. */
export const itShared = (name: string, fn: jest.ProvidesCallback, timeout?: number): void =>
  HAVE_SHARED ? it(name, fn, timeout) : it.skip(name + WHY, fn, timeout)

/** `describe` for tests on the extra corpus; without it, a skip that says why. */
export const describeShared = (name: string, fn: () => void): void =>
  HAVE_SHARED ? describe(name, fn) : describe.skip(name + WHY, fn)

/** Table rows whose layout (the path before `:tag` or `@digest`) exists. */
export function present<T>(rows: T[], layoutOf: (row: T) => string): T[] {
  return rows.filter((row) => existsSync(layoutOf(row).replace(/[:@][^/]*$/, '')))
}
