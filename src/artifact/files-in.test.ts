// Local files as a Source, in-process: the manifest oras would write, blobs served byte for
// byte, a directory packed the same whatever its times, owners and umask, temp files removed.
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { readContent } from '../content/source.js'
import { InputError } from '../errors/errors.js'
import { digestOf } from '../oci/digest.js'
import { Annotation } from '../oci/media-types.js'
import { FilesSource, Oras } from './files-in.js'
import { parseFileSpecs } from './file-specs.js'
import { tmpDir } from '../../__tests__/helpers/skopeo.js'
import { caught } from '../../__tests__/helpers/settle.js'

async function tree(root: string, stamp: number, exec: number): Promise<void> {
  await mkdir(path.join(root, 'd', 'sub'), { recursive: true })
  await writeFile(path.join(root, 'a.txt'), 'hello\n')
  await writeFile(path.join(root, 'd', 'one'), 'one\n')
  await writeFile(path.join(root, 'd', 'sub', 'two'), 'two\n')
  await chmod(path.join(root, 'd', 'one'), exec)
  for (const p of ['d/sub/two', 'd/one', 'd/sub', 'd'])
    await utimes(path.join(root, p), stamp, stamp)
}

async function source(cwd: string, args: string[], tempDir?: string): Promise<FilesSource> {
  return FilesSource.prepare(parseFileSpecs(args), {
    cwd,
    tempDir,
    annotations: { b: '2', a: '1' }
  })
}

describe('FilesSource', () => {
  it("builds oras's manifest and serves each blob's bytes", async () => {
    const cwd = await tmpDir('files-in-')
    await tree(cwd, 1_000_000, 0o755)
    const src = await source(cwd, ['a.txt:text/plain', 'd'])
    try {
      const manifest = await readContent(src, src.root, 1 << 20, 'manifest')
      expect(digestOf(manifest)).toBe(src.root.digest)
      const m = JSON.parse(manifest.toString()) as Record<string, unknown>
      expect(Object.keys(m)).toEqual([
        'schemaVersion',
        'mediaType',
        'artifactType',
        'config',
        'layers',
        'annotations'
      ])
      expect(m).toMatchObject({
        artifactType: Oras.DefaultArtifactType,
        config: {
          mediaType: Oras.EmptyConfig,
          digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
          size: 2
        },
        annotations: { a: '1', b: '2' }
      })
      expect(Object.keys(m.annotations as object)).toEqual(['a', 'b'])
      const [file, dir] = src.layers
      expect(file).toEqual({
        mediaType: 'text/plain',
        digest: digestOf(Buffer.from('hello\n')),
        size: 6,
        annotations: { [Annotation.Title]: 'a.txt' }
      })
      expect(dir.mediaType).toBe(Oras.DirLayer)
      expect(dir.annotations).toEqual({
        [Annotation.TarDigest]: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
        [Annotation.Unpack]: 'true',
        [Annotation.Title]: 'd'
      })
      expect((await readContent(src, file, 100, 'a.txt')).toString()).toBe('hello\n')
      const tgz = await readContent(src, dir, 1 << 20, 'd')
      expect(digestOf(tgz)).toBe(dir.digest)
      // Entries under the title, sorted, with fixed owners, modes and times.
      const tgzFile = path.join(cwd, 'd.tgz')
      await writeFile(tgzFile, tgz)
      const listing = execFileSync('tar', ['tvzf', tgzFile, '--numeric-owner'], {
        encoding: 'utf8'
      })
      expect(
        listing
          .trim()
          .split('\n')
          .map((l) =>
            l
              .split(/\s+/)
              .filter((_, i) => i !== 2 && i !== 3 && i !== 4)
              .join(' ')
          )
      ).toEqual([
        'drwxr-xr-x 0/0 d/',
        '-rwxr-xr-x 0/0 d/one',
        'drwxr-xr-x 0/0 d/sub/',
        '-rw-r--r-- 0/0 d/sub/two'
      ])
      const tar = execFileSync('gzip', ['-dc', tgzFile])
      expect(digestOf(tar)).toBe(dir.annotations?.[Annotation.TarDigest])
      expect(await src.exists(dir)).toBe(true)
      expect(await src.exists({ ...dir, digest: digestOf(Buffer.from('x')) })).toBe(false)
    } finally {
      await src.close()
    }
  })

  it('the same files give the same digest, whatever their times, umask bits and order of annotations', async () => {
    const one = await tmpDir('files-in-one-')
    const two = await tmpDir('files-in-two-')
    await tree(one, 1_000_000, 0o755)
    await tree(two, 2_000_000, 0o700)
    await chmod(path.join(two, 'd', 'sub', 'two'), 0o600)
    const a = await source(one, ['a.txt', 'd'])
    const b = await FilesSource.prepare(parseFileSpecs(['a.txt', 'd']), {
      cwd: two,
      annotations: { a: '1', b: '2' }
    })
    await a.close()
    await b.close()
    expect(b.layers).toEqual(a.layers)
    expect(b.root).toEqual(a.root)
  })

  it('a missing file fails before anything is packed, and packed directories go on close', async () => {
    const cwd = await tmpDir('files-in-missing-')
    const temp = await tmpDir('files-in-temp-')
    await tree(cwd, 1_000_000, 0o644)
    const err = await caught(source(cwd, ['d', 'nope.txt'], temp))
    expect(err).toBeInstanceOf(InputError)
    expect((err as Error).message).toBe('file nope.txt does not exist')
    expect(await readdir(temp)).toEqual([])
    const src = await source(cwd, ['d'], temp)
    expect(await readdir(temp)).toHaveLength(1)
    await src.close()
    expect(await readdir(temp)).toEqual([])
  })
})
