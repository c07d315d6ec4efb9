import { InputError } from '../errors/errors.js'
import { mergeIndex, parseAnnotations, type MergeInput, type PlatformImage } from './merge-index.js'

const d = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`
const image = (
  layout: string,
  n: number,
  architecture: string,
  variant?: string
): PlatformImage => ({
  layout,
  desc: {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: d(n),
    size: 100 + n,
    platform: variant ? { os: 'linux', architecture, variant } : { os: 'linux', architecture }
  }
})
const attestation = (n: number, subject: number) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: d(n),
  size: 500,
  annotations: {
    'vnd.docker.reference.type': 'attestation-manifest',
    'vnd.docker.reference.digest': d(subject)
  },
  platform: { os: 'unknown', architecture: 'unknown' }
})

describe('mergeIndex', () => {
  const input: MergeInput = {
    images: [
      image('b.tar', 2, 'arm64'),
      image('a.tar', 1, 'amd64'),
      image('c.tar', 3, 'arm', 'v7')
    ],
    attestations: [attestation(5, 2), attestation(4, 1)],
    annotations: { 'org.opencontainers.image.source': 'x', 'org.opencontainers.image.created': 'y' }
  }

  it('orders by platform, each attestation after its manifest, keys in a fixed order', () => {
    const merged = mergeIndex(input)
    const json = JSON.parse(merged.bytes.toString('utf8')) as { manifests: { digest: string }[] }
    expect(json.manifests.map((m) => m.digest)).toEqual([d(1), d(4), d(3), d(2), d(5)])
    expect(merged.platforms).toEqual(['linux/amd64', 'linux/arm/v7', 'linux/arm64'])
    expect(merged.bytes.toString('utf8')).toMatch(
      /^\{"schemaVersion":2,"mediaType":"application\/vnd\.oci\.image\.index\.v1\+json","manifests":\[\{"mediaType":/
    )
    expect(merged.bytes.toString('utf8')).toContain(
      '"annotations":{"org.opencontainers.image.created":"y","org.opencontainers.image.source":"x"}}'
    )
  })

  it('gives the same bytes for the inputs in any order, duplicates folded', () => {
    const a = mergeIndex(input)
    const b = mergeIndex({
      images: [...input.images].reverse().concat(input.images[0]),
      attestations: [...input.attestations].reverse().concat(input.attestations[0]),
      annotations: { ...input.annotations }
    })
    expect(b.bytes.equals(a.bytes)).toBe(true)
    expect(b.desc).toEqual(a.desc)
  })

  it('refuses two manifests of one platform, naming both layouts', () => {
    expect(() =>
      mergeIndex({
        images: [image('one.tar', 2, 'arm64'), image('two.tar', 7, 'arm64')],
        attestations: []
      })
    ).toThrow(/one\.tar and two\.tar both hold a linux\/arm64 image/)
  })
})

describe('parseAnnotations', () => {
  it('reads key=value lines, blanks dropped, = kept in values', () => {
    expect(parseAnnotations(['a=b', '', ' c = d=e '])).toEqual({ a: 'b', c: 'd=e' })
  })
  it('refuses a line without a key', () => {
    expect(() => parseAnnotations(['=x'])).toThrow(InputError)
  })
})
