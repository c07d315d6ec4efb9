// Jest global set-up: a temp root for the run, the layouts the suite needs, and the action built
// from src/.
import { buildBundle } from './bundle.mjs'
import makeCorpus from './corpus.mjs'
import { makeTempRoot } from './temp-root.mjs'

export default async function globalSetup() {
  await makeTempRoot()
  await Promise.all([makeCorpus(), buildBundle()])
}
