// Mutation testing (`npm run mutate`): StrykerJS with its jest runner. See docs/testing.md for
// the last score, the surviving mutants and why each that is left survives.
// MUTATE=glob[,glob] narrows the run (e.g. MUTATE=src/oci/digest.ts npm run mutate).
const INTEGRITY_AND_CREDENTIALS = [
  'src/oci/digest.ts',
  'src/content/blob-cursor.ts',
  'src/registry/credentials.ts',
  'src/registry/auth.ts',
  'src/registry/challenge.ts',
  'src/layout/dir-files.ts',
  'src/layout/tar-files.ts',
  'src/layout/files.ts'
]

export default {
  testRunner: 'jest',
  jest: { configFile: 'jest.mutate.config.js', enableFindRelatedTests: false },
  testRunnerNodeArgs: ['--experimental-vm-modules', '--no-warnings'],
  checkers: [],
  coverageAnalysis: 'perTest',
  mutate: process.env.MUTATE ? process.env.MUTATE.split(',') : INTEGRITY_AND_CREDENTIALS,
  ignorePatterns: ['.bench', '.cache', 'dist', 'coverage', 'reports'],
  concurrency: 2,
  // A mutant that hangs costs this much on top of the tests' own time; MUTATE_TIMEOUT_MS=10000
  // suits a units-only loop.
  timeoutMS: Number(process.env.MUTATE_TIMEOUT_MS ?? 60_000),
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp'
}
