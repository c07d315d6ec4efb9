// Choosing a platform's manifest from an index.
import { selectPlatform } from './platform.js'
import type { Descriptor } from './types.js'

describe('selectPlatform', () => {
  const d = (os: string, architecture: string, variant?: string): Descriptor => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${os}${architecture}${variant ?? ''}`,
    size: 1,
    platform: { os, architecture, ...(variant ? { variant } : {}) }
  })
  const children = [
    d('linux', 'amd64'),
    d('linux', 'arm64', 'v8'),
    d('linux', 'arm', 'v6'),
    d('unknown', 'unknown')
  ]
  it('matches arm64 with or without its implied variant', () => {
    expect(selectPlatform(children, 'linux/arm64')?.platform?.architecture).toBe('arm64')
    expect(selectPlatform(children, 'linux/aarch64')?.platform?.architecture).toBe('arm64')
  })
  it('falls back to an older arm variant', () => {
    expect(selectPlatform(children, 'linux/arm/v7')?.platform?.variant).toBe('v6')
  })
  it('never picks an attestation manifest', () => {
    expect(selectPlatform(children, 'unknown/unknown')).toBeUndefined()
  })
  it('rejects a malformed platform', () => {
    expect(() => selectPlatform(children, 'linux')).toThrow(/invalid platform/)
  })
})
