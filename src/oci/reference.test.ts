// References, layout selectors and loopback names, as the inputs give them.
import { RegistryClient } from '../registry/client.js'
import { apiHost, isLoopbackHost, parseLayoutSpec, parseReference } from './reference.js'

describe('parseReference', () => {
  it('combines registry and repository', () => {
    expect(parseReference('org/app:v1', 'ghcr.io')).toEqual({
      registry: 'ghcr.io',
      repository: 'org/app',
      tag: 'v1',
      digest: undefined
    })
  })
  it('takes the host from a full reference, with a port', () => {
    expect(parseReference('localhost:5000/app:1.0')).toMatchObject({
      registry: 'localhost:5000',
      repository: 'app',
      tag: '1.0'
    })
  })
  it('adds library/ for Docker Hub single names', () => {
    expect(parseReference('alpine:3', 'docker.io')).toMatchObject({ repository: 'library/alpine' })
    expect(parseReference('docker.io/alpine')).toMatchObject({ repository: 'library/alpine' })
  })
  it("sends Docker Hub's API requests to registry-1.docker.io", () => {
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io'])
      expect(apiHost(host)).toBe('registry-1.docker.io')
    expect(apiHost('ghcr.io')).toBe('ghcr.io')
    const client = new RegistryClient({ registry: 'docker.io' })
    expect(client.origin).toBe('https://registry-1.docker.io')
    client.close()
  })
  it('keeps a digest', () => {
    const d = `sha256:${'a'.repeat(64)}`
    expect(parseReference(`ghcr.io/o/a@${d}`)).toMatchObject({
      registry: 'ghcr.io',
      repository: 'o/a',
      digest: d,
      tag: undefined
    })
  })
  it.each([
    ['', 'ghcr.io', /empty/],
    ['Org/App', 'ghcr.io', /invalid repository name/],
    ['org/app:bad tag', 'ghcr.io', /invalid tag/],
    ['org/app', '', /no registry given/],
    ['ghcr.io/org/app', 'quay.io', /names registry ghcr.io but the registry input is quay.io/],
    ['org/app@sha256:123', 'ghcr.io', /invalid digest/]
  ])('rejects %j with registry %j', (ref, registry, re) => {
    expect(() => parseReference(ref, registry)).toThrow(re)
  })
})

describe('parseLayoutSpec', () => {
  const none = (): boolean => false
  it.each([
    ['app.tar', { path: 'app.tar' }],
    ['app.tar:v1', { path: 'app.tar', tag: 'v1' }],
    [`dir/app@sha256:${'b'.repeat(64)}`, { path: 'dir/app', digest: `sha256:${'b'.repeat(64)}` }],
    ['C:\\work\\app.tar', { path: 'C:\\work\\app.tar' }],
    ['C:\\work\\app.tar:v2', { path: 'C:\\work\\app.tar', tag: 'v2' }],
    ['/tmp/a:b/app.tar', { path: '/tmp/a:b/app.tar' }]
  ])('%s', (spec, expected) => {
    expect(parseLayoutSpec(spec, none)).toEqual(expected)
  })
  it('prefers a path that exists as a whole', () => {
    expect(parseLayoutSpec('weird:name', (p) => p === 'weird:name')).toEqual({ path: 'weird:name' })
  })
})

describe('isLoopbackHost', () => {
  it.each([
    ['localhost:5000', true],
    ['127.0.0.1', true],
    ['127.1.2.3:80', true],
    ['[::1]:5000', true],
    ['ghcr.io', false],
    ['10.0.0.1:5000', false]
  ])('%s → %s', (host, expected) => expect(isLoopbackHost(host)).toBe(expected))
})
