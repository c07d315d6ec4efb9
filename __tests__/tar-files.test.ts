// The tar reader in-process (mutation testing sees these): members are found by their byte range
// without extracting, links are followed only inside the archive and not for ever, members that
// are not files are refused when read, and a damaged archive is one line naming where.
import { writeFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { LayoutError } from '../src/content/errors.js'
import { isGzipFile, TarFiles } from '../src/layout/tar-files.js'
import { tmpDir } from './helpers/skopeo.js'
import { makeTar, paxBody, type Member } from './helpers/tar-build.js'
import { caught, streamText } from './helpers/settle.js'

async function tarFile(bytes: Buffer, name = 'layout.tar'): Promise<string> {
  const file = path.join(await tmpDir('tarfiles-'), name)
  await writeFile(file, bytes)
  return file
}

const open = async (members: Member[]): Promise<{ file: string; tar: TarFiles }> => {
  const file = await tarFile(makeTar(members))
  return { file, tar: await TarFiles.open(file) }
}

const body = (s: string): Buffer => Buffer.from(s)

describe('TarFiles', () => {
  it('finds members by name, reads them in place, and skips the archive root and directories', async () => {
    const { tar } = await open([
      { path: './', type: 'Directory' },
      { path: './blobs/', type: 'Directory' },
      { path: './index.json', body: body('{"schemaVersion":2}') },
      { path: 'blobs/sha256/aa', body: body('x'.repeat(700)) },
      { path: 'empty', body: Buffer.alloc(0) }
    ])
    expect(await tar.size('index.json')).toBe(19)
    expect(await tar.size('/blobs//sha256/aa')).toBe(700)
    expect(await tar.size('blobs')).toBeUndefined()
    expect(await streamText(await tar.open('blobs/sha256/aa'))).toBe('x'.repeat(700))
    expect(await streamText(await tar.open('empty'))).toBe('')
    const r = await tar.reader('index.json')
    const buf = Buffer.alloc(6)
    expect(await r.read(buf, 13)).toBe(6)
    expect(buf.toString()).toBe('on":2}')
    await r.close()
    expect(() => tar.check()).not.toThrow()
    for (const missing of [tar.open('nope'), tar.reader('nope')])
      expect(await caught(missing)).toMatchObject({
        constructor: LayoutError,
        message: expect.stringMatching(/layout\.tar: nope is missing$/)
      })
    await expect(tar.size('../x')).rejects.toThrow(/\.\.\/x is outside the layout/)
  })

  it('follows symbolic and hard links inside the archive, and refuses the rest when read', async () => {
    const { file, tar } = await open([
      { path: 'blobs/sha256/aa', body: body('real') },
      { path: 'blobs/sha256/sym', type: 'SymbolicLink', linkpath: 'aa' },
      { path: 'blobs/up', type: 'SymbolicLink', linkpath: '../blobs/sha256/sym' },
      { path: 'hard', type: 'Link', linkpath: './blobs/sha256/aa' },
      { path: 'abs', type: 'SymbolicLink', linkpath: '/etc/passwd' },
      { path: 'climb', type: 'SymbolicLink', linkpath: '../../etc/passwd' },
      { path: 'hard-out', type: 'Link', linkpath: '../x' },
      { path: 'dev', type: 'CharacterDevice' },
      { path: 'blk', type: 'BlockDevice' },
      { path: 'fifo', type: 'FIFO' }
    ])
    for (const name of ['blobs/sha256/sym', 'blobs/up', 'hard'])
      expect(await streamText(await tar.open(name))).toBe('real')
    const refused = async (name: string): Promise<string> => {
      const err = await caught(tar.size(name))
      expect(err).toBeInstanceOf(LayoutError)
      expect(err).toMatchObject({
        hint: 'a layout holds only regular files, and links to files inside itself'
      })
      return (err as Error).message
    }
    expect(await refused('abs')).toBe(
      `${file}: abs is a symbolic link to "/etc/passwd" (outside the layout), not a regular file`
    )
    expect(await refused('climb')).toContain('climb is a symbolic link to "../../etc/passwd"')
    expect(await refused('hard-out')).toContain('hard-out is a hard link to "../x" (outside')
    expect(await refused('dev')).toContain('dev is a character device, not a regular file')
    expect(await refused('blk')).toContain('blk is a block device')
    expect(await refused('fifo')).toContain('fifo is a FIFO')
    // check() names the first such member.
    expect(() => tar.check()).toThrow(/abs is a symbolic link/)
  })

  it('stops following links after 16 hops', async () => {
    const chain = (n: number): Member[] => [
      { path: 'l0', body: body('end') },
      ...Array.from({ length: n }, (_, i): Member => ({
        path: `l${i + 1}`,
        type: 'SymbolicLink',
        linkpath: `l${i}`
      }))
    ]
    const ok = await open(chain(16))
    expect(await ok.tar.size('l16')).toBe(3)
    const long = await open(chain(17))
    const err = await caught(long.tar.size('l17'))
    expect(err).toBeInstanceOf(LayoutError)
    expect(err).toMatchObject({
      message: `${long.file}: l17 passes through more than 16 links (a link loop)`,
      hint: 'a layout may only link to files inside itself'
    })
    const loop = await open([
      { path: 'a', type: 'SymbolicLink', linkpath: 'b' },
      { path: 'b', type: 'SymbolicLink', linkpath: 'a' }
    ])
    await expect(loop.tar.size('a')).rejects.toThrow(/a link loop/)
  })

  it('takes long names and long link targets from PAX and GNU headers', async () => {
    const long = `blobs/sha256/${'d'.repeat(150)}`
    const { tar } = await open([
      { path: 'short', pax: { path: long }, body: body('pax') },
      { path: '././@LongLink', type: 'NextFileHasLongPath', body: body(`${long}-gnu\0`) },
      { path: 'truncated-name', body: body('gnu') },
      { path: 'link', type: 'SymbolicLink', linkpath: 'x', pax: { linkpath: long } }
    ])
    expect(await streamText(await tar.open(long))).toBe('pax')
    expect(await streamText(await tar.open(`${long}-gnu`))).toBe('gnu')
    expect(await streamText(await tar.open('link'))).toBe('pax')
    expect(await tar.size('short')).toBeUndefined()
  })

  it('refuses absolute member names and names with ..', async () => {
    for (const [name, why] of [
      ['/etc/passwd', 'points outside the archive (an absolute name)'],
      ['C:/x', 'points outside the archive (an absolute name)'],
      ['a/../../x', 'points outside the archive (a ".." in its name)']
    ]) {
      const file = await tarFile(makeTar([{ path: name, body: body('x') }]))
      const err = await caught(TarFiles.open(file))
      expect(err).toBeInstanceOf(LayoutError)
      expect(err).toMatchObject({
        message: `${file}: member ${JSON.stringify(name)} ${why}`,
        hint: 'a layout tar names its files relative to its root; refusing the archive'
      })
    }
  })

  it('names what is wrong with a damaged archive, and where', async () => {
    const good = makeTar([
      { path: 'a', body: body('x'.repeat(600)) },
      { path: 'b', body: body('y') }
    ])
    const hint =
      'expected an OCI layout tar (docker buildx build -o type=oci,dest=FILE) or a layout directory'
    const fails = async (bytes: Buffer, message: string): Promise<void> => {
      const file = await tarFile(bytes)
      const err = await caught(TarFiles.open(file))
      expect(err).toBeInstanceOf(LayoutError)
      expect(err).toMatchObject({ message: `${file}: ${message}`, hint })
    }
    await fails(Buffer.alloc(0), 'the file is empty')
    await fails(Buffer.from('hello'), 'not a tar archive (too short)')
    await fails(Buffer.alloc(512, 0x41), 'not a tar archive')
    await fails(good.subarray(0, 1536 + 100), 'truncated tar header at byte 1536')
    const damaged = Buffer.from(good)
    damaged[1536 + 10] ^= 0xff
    await fails(damaged, 'corrupt tar header at byte 1536')
    await fails(good.subarray(0, 800), 'truncated tar: "a" ends past the end of the file')
    const negative = Buffer.from(makeTar([{ path: 'a', body: body('x') }]))
    negative.fill(0xff, 124, 136) // base-256 -1
    fixChecksum(negative, 0)
    await fails(negative, 'tar header at byte 0 has a negative size')
    const comment = { comment: 'x'.repeat(1 << 20) }
    const pax = makeTar([{ path: 'a', pax: comment, body: body('x') }])
    await fails(pax, `tar extended header at byte 0 is ${paxBody(comment).length} bytes long`)
    // The end-of-archive blocks are optional, as GNU tar has it.
    const open = await TarFiles.open(await tarFile(good.subarray(0, good.length - 1024)))
    expect(await open.size('b')).toBe(1)
  })
})

/** Recomputes a ustar header's checksum after a byte was changed on purpose. */
function fixChecksum(tar: Buffer, at: number): void {
  tar.fill(0x20, at + 148, at + 156)
  let sum = 0
  for (let i = 0; i < 512; i++) sum += tar[at + i]
  tar.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 8, 'latin1')
}

describe('gzip-compressed tars', () => {
  it('are told by their first bytes, read through a temporary copy, removed on close', async () => {
    const tar = makeTar([{ path: 'index.json', body: body('{}') }])
    const file = await tarFile(gzipSync(tar), 'layout.tar.gz')
    expect(await isGzipFile(file)).toBe(true)
    expect(await isGzipFile(await tarFile(tar))).toBe(false)
    expect(await isGzipFile(await tarFile(Buffer.from([0x1f])))).toBe(false)
    const temp = await tmpDir('gz-temp-')
    const files = await TarFiles.open(file, { tempDir: temp })
    expect(await streamText(await files.open('index.json'))).toBe('{}')
    expect((await readdir(temp)).length).toBe(1)
    await files.close()
    expect(await readdir(temp)).toEqual([])
  })

  it('name corrupt data, and leave no temporary copy behind', async () => {
    const gz = gzipSync(makeTar([{ path: 'index.json', body: body('{}') }]))
    const temp = await tmpDir('gz-temp-')
    const cut = await tarFile(gz.subarray(0, gz.length - 8), 'cut.tar.gz')
    const err = await caught(TarFiles.open(cut, { tempDir: temp }))
    expect(err).toBeInstanceOf(LayoutError)
    expect(err).toMatchObject({
      message: expect.stringMatching(/cut\.tar\.gz: corrupt gzip data \(/),
      hint: 'the file was truncated or damaged; build or download it again'
    })
    const flipped = Buffer.from(gz)
    flipped[20] ^= 0xff
    const bad = await tarFile(flipped, 'bad.tar.gz')
    await expect(TarFiles.open(bad, { tempDir: temp })).rejects.toThrow(/corrupt gzip data/)
    expect(await readdir(temp)).toEqual([])
    const nowhere = path.join(temp, 'missing')
    const err2 = await caught(TarFiles.open(cut, { tempDir: nowhere }))
    expect(err2).toMatchObject({
      message: `cannot create a directory in ${nowhere} to decompress ${cut} (ENOENT)`,
      hint: 'check that the temporary directory (RUNNER_TEMP) exists and is writable'
    })
  })

  it('a layout that cannot be opened is named', async () => {
    const missing = path.join(await tmpDir('gz-'), 'missing.tar')
    expect(await caught(TarFiles.open(missing))).toMatchObject({
      constructor: LayoutError,
      message: `layout ${missing} cannot be read (ENOENT)`
    })
  })
})
