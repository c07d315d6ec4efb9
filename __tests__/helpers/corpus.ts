// The layouts every test can count on: made by the suite's global set-up (__tests__/setup/), by
// the project's generator and by real tools (buildah, umoci, GNU tar, skopeo into a registry's
// storage). ../shared/fixtures (or OCI_FIXTURES), when present, is a second corpus of the same
// shapes written by other tools; tests that take a corpus run on both.
import { existsSync, readFileSync } from 'node:fs'
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

/** Digests in a corpus that tests name. */
export interface CorpusFacts {
  /** buildah-oci-archive.tar's manifest (tag v1) */
  buildah: string
  /** buildah-multiarch-index.tar's index (tag v1) */
  buildahMulti: string
  umociV1: string
  umociV2: string
  /** the one platform present in containerd-export-hello-world.tar (and its GNU tar re-tar) */
  helloAmd64: string
  /** regclient-testrepo's v2, whose referrers are listed by a fallback tag */
  testrepoV2: string
  /** regclient-testrepo's loop → child → the child's referrers index → loop */
  loop: string
  loopChild: string
  loopChildReferrers: string
  /** what registry-storage/images.tar.gz holds under command/images:foobar */
  dumpFoobar: string
}

export interface Corpus {
  /** 'made' (at set-up) or 'shared' (the extra corpus), for test names */
  name: string
  /** holds layouts/NAME and registry-storage/NAME, named as in ../shared/fixtures */
  root: string
  facts: CorpusFacts
  /** why a layout or dump is not there, by its name under root ('umoci-two-tags') */
  missing: Record<string, string>
}

/** A layout of a corpus by its file name. */
export const layoutIn = (corpus: Corpus, name: string): string =>
  path.join(corpus.root, 'layouts', name)

function made(): Corpus {
  const root = path.join(CORPUS_DIR, 'made')
  const file = path.join(root, 'facts.json')
  if (!existsSync(file)) throw new Error(`${file} is missing: the suite's global set-up makes it`)
  const facts = JSON.parse(readFileSync(file, 'utf8')) as CorpusFacts & {
    missing: Record<string, string>
  }
  return { name: 'made', root, facts, missing: facts.missing }
}

/** Made at set-up: always there, though a layout whose tool is missing is left out (see missing). */
export const MADE: Corpus = made()

const sharedRoot = path.resolve(process.env.OCI_FIXTURES ?? '../shared/fixtures')
/** The extra corpus, when present. */
export const SHARED: Corpus | undefined = existsSync(path.join(sharedRoot, 'layouts'))
  ? {
      name: 'shared',
      root: sharedRoot,
      missing: {},
      facts: {
        buildah: 'sha256:fc3cd1dd968b470e89b4cbe7c362351bf1a1833de0f07bc041d58cf05a391059',
        buildahMulti: 'sha256:1a86fd9ca9a7a61a1172e59cc9beeacbfe51f410b4df2d72ab0037a478287368',
        umociV1: 'sha256:9091c46541817ddd73e70c370412a712274948613b35667ed5c3e6b4785af93e',
        umociV2: 'sha256:eb75b3b44c805e593dbf961cbd8bf7c9c43fe21484d0fba0c16c24b8ae1a9353',
        helloAmd64: 'sha256:f54a58bc1aac5ea1a25d796ae155dc228b3f0e11d046ae276b39c4bf2f13d8c4',
        testrepoV2: 'sha256:dfae8f425735a5e3a72e40d6609e03079995511d48157c74d54801ff4430491e',
        loop: 'sha256:d69399e05204fac05b0184eef72e984538cdc9c5854a6484e8852e4357c543cb',
        loopChild: 'sha256:8e54c6754f08d22f85c7552bb1951b228b8194d29b14a1639dbe50868da0273e',
        loopChildReferrers:
          'sha256:fdc0d9052a90792725e4fd8ba287fca2be6748d8b1e127ac7f82954449399912',
        dumpFoobar: 'sha256:fd6ed2f36b5465244d5dc86cb4e7df0ab8a9d24adc57825099f522fe009a22bb'
      }
    }
  : undefined

/** The made corpus, then the extra one when present. */
export const CORPORA: Corpus[] = SHARED ? [MADE, SHARED] : [MADE]

/** Why `name` (a layout or dump file name) cannot be used in `corpus`, or undefined if it can. */
export function missingIn(corpus: Corpus, ...names: string[]): string | undefined {
  const why = names.map((n) => corpus.missing[n]).find((w) => w !== undefined)
  return why === undefined ? undefined : `${names.join(', ')}: ${why}`
}

/** `it` for a test on some of a corpus's layouts; a skip that says why when one is missing. */
export function itWith(
  corpus: Corpus,
  names: string[],
  title: string,
  fn: jest.ProvidesCallback,
  timeout?: number
): void {
  const why = missingIn(corpus, ...names)
  const full = `${title} (${corpus.name} corpus)`
  if (why === undefined) it(full, fn, timeout)
  else it.skip(`${full} [skipped: ${why}]`, fn, timeout)
}

/** `describe` over a corpus's layouts; a skip that says why when one is missing. */
export function describeWith(corpus: Corpus, names: string[], title: string, fn: () => void): void {
  const why = missingIn(corpus, ...names)
  const full = `${title} (${corpus.name} corpus)`
  if (why === undefined) describe(full, fn)
  else describe.skip(`${full} [skipped: ${why}]`, fn)
}

/**
 * Table rows whose layout (the path before `:tag` or `@digest`) exists. Each row left out is
 * registered as a skipped test that names it and says why, so nothing drops out unseen.
 */
export function present<T>(rows: T[], layoutOf: (row: T) => string): T[] {
  const kept: T[] = []
  for (const row of rows) {
    const file = layoutOf(row).replace(/[:@][^/]*$/, '')
    if (existsSync(file)) kept.push(row)
    else {
      const corpus = CORPORA.find((c) => file.startsWith(c.root + path.sep))
      const why = corpus?.missing[path.basename(file)] ?? 'not found'
      it.skip(`${file} [skipped: ${why}]`, () => undefined)
    }
  }
  return kept
}
