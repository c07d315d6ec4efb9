// ts-jest in ESM mode: the @actions packages are ESM-only.
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  resolver: 'ts-jest-resolver',
  // Unit tests sit beside their module in src/; integration and adversarial suites in __tests__/.
  roots: ['<rootDir>/src', '<rootDir>/__tests__'],
  globalSetup: '<rootDir>/__tests__/setup/global.mjs',
  globalTeardown: '<rootDir>/__tests__/setup/teardown.mjs',
  setupFilesAfterEnv: ['<rootDir>/__tests__/setup/each-file.ts'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }
    ]
  },
  testTimeout: 120000,
  maxWorkers: 2,
  // Its transform cache too stays out of the system temp directory.
  cacheDirectory: '<rootDir>/.cache/jest',
  verbose: false
}
