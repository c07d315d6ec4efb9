// The tests mutation testing runs (stryker.config.mjs): those that import src/ in-process, where
// a mutant is active. Tests that run the bundled action in a child process cannot see mutants.
import base from './jest.config.js'

const ALL = [
  '**/units.test.ts',
  '**/credentials.test.ts',
  '**/blob-cursor.test.ts',
  '**/layout-files.test.ts',
  '**/tar-files.test.ts',
  '**/layout-races.test.ts',
  '**/layout-write.test.ts',
  '**/auth-state.test.ts',
  '**/copy.test.ts',
  '**/guarantees.test.ts',
  '**/auth.test.ts',
  '**/push.test.ts',
  '**/pull.test.ts',
  '**/fuzz.test.ts',
  '**/large-blobs.test.ts',
  '**/raw-get.test.ts'
]

// MUTATE_TESTS=units,copy narrows the run to those test files (a quick loop on one module).
export default {
  ...base,
  testMatch: process.env.MUTATE_TESTS
    ? process.env.MUTATE_TESTS.split(',').map((n) => `**/${n}.test.ts`)
    : ALL
}
