// Titles of an artifact's layers, in-process: which are files, which are refused, and where a
// title may not land as the output directory stands.
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { InputError } from '../errors/errors.js'
import type { Descriptor, ImageManifest } from '../oci/types.js'
import { artifactFiles, checkTargets, titlePath, type ArtifactFile } from './titles.js'
import { tmpDir } from '../../__tests__/helpers/skopeo.js'

const layer = (annotations?: Record<string, string>): Descriptor => ({
  mediaType: 'application/octet-stream',
  digest: `sha256:${'a'.repeat(64)}`,
  size: 1,
  ...(annotations ? { annotations } : {})
})
const manifest = (layers: Descriptor[]): ImageManifest => ({
  schemaVersion: 2,
  config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:x', size: 2 },
  layers
})
const titled = (title: string): Descriptor => layer({ 'org.opencontainers.image.title': title })
const file = (name: string, unpack = false): ArtifactFile => ({
  desc: layer(),
  name,
  ...(unpack ? { unpack: {} } : {})
})

it('titles: relative paths, `.` and doubled slashes dropped; unsafe ones refused', () => {
  expect(titlePath('a.txt')).toBe('a.txt')
  expect(titlePath('./dir//b.txt')).toBe('dir/b.txt')
  for (const bad of [
    '',
    '.',
    './',
    '/etc/x',
    'C:\\x',
    'C:/x',
    '\\\\host\\x',
    '..',
    'a/../b',
    'a\\..\\b',
    'a\0b'
  ])
    expect(() => titlePath(bad)).toThrow(InputError)
})

it('artifactFiles: titled layers only; directories to unpack; duplicates and nesting refused', () => {
  const dir = layer({
    'org.opencontainers.image.title': 'docs',
    'io.deis.oras.content.unpack': 'true',
    'io.deis.oras.content.digest': 'sha256:abc'
  })
  const files = artifactFiles(manifest([titled('a'), layer(), dir]))
  expect(files.map((f) => [f.name, f.unpack])).toEqual([
    ['a', undefined],
    ['docs', { tarDigest: 'sha256:abc' }]
  ])
  expect(artifactFiles(manifest([layer()]))).toEqual([])
  expect(() => artifactFiles(manifest([titled('a'), titled('./a')]))).toThrow(/two layers/)
  expect(() => artifactFiles(manifest([titled('a'), titled('a/b')]))).toThrow(/inside a/)
})

it('checkTargets: links must stay inside; a file cannot stand where a directory goes', async () => {
  const parent = await tmpDir('titles-')
  const out = path.join(parent, 'out')
  // An output directory not made yet holds nothing in the way.
  await checkTargets(out, [file('x/y')])
  await mkdir(path.join(out, 'inner'), { recursive: true })
  await mkdir(path.join(parent, 'out-sibling'))
  await symlink('inner', path.join(out, 'ok'))
  await symlink('../out-sibling', path.join(out, 'sibling'))
  await symlink('nowhere', path.join(out, 'dangling'))
  await writeFile(path.join(out, 'plain'), 'x')
  await checkTargets(out, [file('ok/x'), file('inner/y'), file('new/z'), file('plain')])
  await expect(checkTargets(out, [file('sibling/x')])).rejects.toThrow(/leads outside/)
  await expect(checkTargets(out, [file('sibling')])).rejects.toThrow(/leads outside/)
  await expect(checkTargets(out, [file('dangling/x')])).rejects.toThrow(/leads nowhere/)
  await expect(checkTargets(out, [file('plain/x')])).rejects.toThrow(/is not a directory/)
  await expect(checkTargets(out, [file('inner')])).rejects.toThrow(/is a directory/)
  await expect(checkTargets(out, [file('plain', true)])).rejects.toThrow(/not a directory/)
  await checkTargets(out, [file('inner', true)])
})
