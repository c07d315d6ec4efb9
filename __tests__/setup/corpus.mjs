// Jest global set-up: the layouts the suite needs, made here by the project's generator and by
// real tools (corpus-tools.mjs), so a clone with nothing beside it runs the whole suite.
// ../shared/fixtures, when present, is an extra corpus on top (see __tests__/helpers/corpus.ts). Made once and reused while the generator's
// options are unchanged (gen-layout's cache sidecar); git-ignored under .cache/.
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { generateLayout } from '../../scripts/gen-layout.mjs'
import { makeToolCorpus } from './corpus-tools.mjs'

export const CORPUS_DIR = path.resolve('.cache', 'corpus')

/** BuildKit's `type=oci` tar for two platforms with provenance attestations, tagged v1 and latest. */
export const BUILDX_OPTIONS = {
  format: 'tar',
  platforms: ['linux/amd64', 'linux/arm64'],
  layers: [1024, 2048],
  sharedBase: true,
  attestations: true,
  tags: ['v1', 'latest'],
  name: 'docker.io/library/hello-world',
  seed: 1,
  cache: true
}

export default async function makeCorpus() {
  await mkdir(CORPUS_DIR, { recursive: true })
  const [buildx] = await Promise.all([
    generateLayout({
      ...BUILDX_OPTIONS,
      out: path.join(CORPUS_DIR, 'buildx-style-multiarch-attest.tar')
    }),
    makeToolCorpus()
  ])
  // Tests name this digest (helpers/corpus.ts): a generator change must show here, not as 40 failures.
  if (buildx.digest !== BUILDX_DIGEST)
    throw new Error(
      `the made buildx layout is ${buildx.digest}, helpers/corpus.ts says ${BUILDX_DIGEST}`
    )
}

const BUILDX_DIGEST = 'sha256:23bb1d8b93f940e7dce8026b235db15db51995f93928623560a27df9e668e1ae'
