/**
 * The package version, carried in the bundles so `oci-layout --version` needs no package.json
 * beside dist/cli.js. Kept equal to package.json's `version` (__tests__/cli.test.ts checks).
 */
export const VERSION = '0.1.0'
