// The tests mutation testing runs (stryker.config.mjs): those that import src/ in-process, where
// a mutant is active. Tests that run the bundled action in a child process cannot see mutants.
import base from './jest.config.js'

const ALL = [
  // Every unit test, beside its module.
  '<rootDir>/src/**/*.test.ts',
  // The suites that drive src/ in-process through a registry.
  '**/integration/guarantees.test.ts',
  '**/integration/auth.test.ts',
  '**/integration/push.test.ts',
  '**/integration/pull.test.ts',
  '**/integration/large-blobs.test.ts',
  '**/adversarial/fuzz.test.ts'
]

// MUTATE_TESTS=layout/tar-files,fuzz narrows the run to those test files (a quick loop on one
// module): a name with a slash is a path under src/ or __tests__/, one without matches any file
// of that name.
export default {
  ...base,
  testMatch: process.env.MUTATE_TESTS
    ? process.env.MUTATE_TESTS.split(',').map((n) => `**/${n}.test.ts`)
    : ALL
}
