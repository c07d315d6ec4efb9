// Unit tests of the pure parts: names, selectors, challenges, platforms, verification, tar index.
import { execFile } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { DigestMismatchError, OciError, SizeMismatchError } from '../src/errors/errors.js'
import { readAll } from '../src/content/source.js'
import { normaliseName } from '../src/layout/files.js'
import { TarFiles } from '../src/layout/tar-files.js'
import { RegistryClient } from '../src/registry/client.js'
import {
  digestOf,
  isDigest,
  parseDigest,
  verifyBuffer,
  VerifyingStream
} from '../src/oci/digest.js'
import { selectPlatform } from '../src/oci/platform.js'
import { apiHost, isLoopbackHost, parseLayoutSpec, parseReference } from '../src/oci/reference.js'
import type { Descriptor } from '../src/oci/types.js'
import { parseChallenge } from '../src/registry/challenge.js'
import { tmpDir } from './helpers/skopeo.js'

const execFileP = promisify(execFile)

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

describe('parseChallenge', () => {
  it('reads a bearer challenge with quoted values and commas inside', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'
      )
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'registry.example',
        scope: 'repository:a/b:pull,push'
      }
    })
  })
  it('reads basic', () => {
    expect(parseChallenge('Basic realm="basic-realm"')).toEqual({
      scheme: 'basic',
      params: { realm: 'basic-realm' }
    })
  })
  it('returns undefined for nothing', () => expect(parseChallenge(undefined)).toBeUndefined())
})

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

describe('digests', () => {
  const hex64 = 'a'.repeat(64)
  it('refuses digests that could escape a path', () => {
    expect(() => parseDigest('sha256:../../etc/passwd')).toThrow(/invalid digest/)
    expect(() => parseDigest(`md5:${'a'.repeat(32)}`)).toThrow(/invalid digest/)
  })
  it('takes only a whole digest of the right length, and says what it expected', () => {
    expect(parseDigest(`sha256:${hex64}`)).toEqual({ algorithm: 'sha256', hex: hex64 })
    expect(parseDigest(`sha512:${hex64}${hex64}`).algorithm).toBe('sha512')
    for (const bad of [
      `sha256:${hex64.slice(1)}`,
      `sha512:${hex64}`,
      `x/sha256:${hex64}`,
      `sha256:${hex64}/../x`
    ]) {
      expect(() => parseDigest(bad)).toThrow(new OciError(`invalid digest "${bad}"`, { hint: 'x' }))
      try {
        parseDigest(bad)
      } catch (err) {
        expect((err as OciError).hint).toBe('expected sha256:<64 hex> or sha512:<128 hex>')
      }
      expect(isDigest(bad)).toBe(false)
    }
    expect(isDigest(`sha256:${hex64}`)).toBe(true)
    expect(isDigest(`sha512:${hex64}${hex64}`)).toBe(true)
    expect(isDigest(`sha512:${'g'.repeat(128)}`)).toBe(false)
    expect(isDigest(`sha512:${hex64}`)).toBe(false)
  })
  it('a buffer of the wrong length is a size mismatch, before any hashing', () => {
    const b = Buffer.from('abc')
    expect(() => verifyBuffer(b, { digest: digestOf(b), size: 4 }, 'x')).toThrow(SizeMismatchError)
    expect(() => verifyBuffer(b, { digest: digestOf(b), size: 3 }, 'x')).not.toThrow()
    const other = { digest: digestOf(Buffer.from('abd')), size: 3 }
    expect(() => verifyBuffer(b, other, 'x')).toThrow(DigestMismatchError)
  })
  const data = Buffer.from('hello, verifying stream')
  const desc = { digest: digestOf(data), size: data.length }
  const run = (input: Buffer, expected: { digest: string; size: number }): Promise<Buffer> => {
    const v = new VerifyingStream(expected, 'test blob')
    return Promise.all([
      pipeline(Readable.from([input]), v).catch((e: unknown) => Promise.reject(e)),
      readAll(v, 1 << 20, 'x')
    ]).then((r) => r[1])
  }
  it('passes matching bytes through', async () => {
    expect(await run(data, desc)).toEqual(data)
  })
  it('fails on other bytes of the same size', async () => {
    const other = Buffer.from(data)
    other[0] ^= 1
    await expect(run(other, desc)).rejects.toBeInstanceOf(DigestMismatchError)
  })
  it('fails a long body as soon as it runs long, passing nothing past the size', async () => {
    const v = new VerifyingStream(desc, 'test blob')
    const passed: Buffer[] = []
    v.on('data', (c: Buffer) => passed.push(c))
    const chunks = [data, Buffer.from('more'), Buffer.from('and more')]
    await expect(pipeline(Readable.from(chunks), v)).rejects.toBeInstanceOf(SizeMismatchError)
    expect(Buffer.concat(passed)).toEqual(data)
  })
  it('fails on a short or long body', async () => {
    await expect(run(data.subarray(1), desc)).rejects.toBeInstanceOf(SizeMismatchError)
    await expect(run(Buffer.concat([data, Buffer.from('x')]), desc)).rejects.toBeInstanceOf(
      SizeMismatchError
    )
  })
})

describe('tar index', () => {
  it('normalises member names', () => {
    expect(normaliseName('./blobs/sha256/ab')).toBe('blobs/sha256/ab')
    expect(normaliseName('/index.json')).toBe('index.json')
    expect(normaliseName('../evil')).toBeUndefined()
  })

  it('reads PAX long names, GNU long names and in-layout symlinks in place', async () => {
    const dir = await tmpDir('tar-unit-')
    const src = path.join(dir, 'src')
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`
    await mkdir(path.join(src, path.dirname(long)), { recursive: true })
    await writeFile(path.join(src, long), 'long name content')
    await writeFile(path.join(src, 'target'), 'target content')
    await symlink('target', path.join(src, 'link'))
    for (const format of ['pax', 'gnu']) {
      const file = path.join(dir, `${format}.tar`)
      await execFileP('tar', [`--format=${format}`, '-C', src, '-cf', file, '.'])
      const tar = await TarFiles.open(file)
      expect(await tar.size(long)).toBe(17)
      expect((await readAll(await tar.open(long), 100, 'x')).toString()).toBe('long name content')
      expect((await readAll(await tar.open('link'), 100, 'x')).toString()).toBe('target content')
      expect(await tar.size('missing')).toBeUndefined()
      await tar.close()
    }
  })

  it('refuses a member that climbs out of the archive', async () => {
    const dir = await tmpDir('tar-evil-')
    await writeFile(path.join(dir, 'x'), 'x')
    const file = path.join(dir, 'evil.tar')
    await execFileP('tar', ['-C', dir, '--transform', 's,^x$,../../x,', '-P', '-cf', file, 'x'])
    await expect(TarFiles.open(file)).rejects.toThrow(/points outside the archive/)
  })

  it('refuses a symlink that leaves the layout when it is read', async () => {
    const dir = await tmpDir('tar-link-')
    const src = path.join(dir, 'src')
    await mkdir(src)
    await symlink('/etc/passwd', path.join(src, 'index.json'))
    const file = path.join(dir, 'link.tar')
    await execFileP('tar', ['-C', src, '-cf', file, 'index.json'])
    const tar = await TarFiles.open(file)
    await expect(tar.size('index.json')).rejects.toThrow(/outside the layout/)
    await tar.close()
  })
})
