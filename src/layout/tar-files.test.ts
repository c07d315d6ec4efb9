// The tar reader in-process (mutation testing sees these): members are found by their byte range
// without extracting, links are followed only inside the archive and not for ever, members that
// are not files are refused when read, and a damaged archive is one line naming where.
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { LayoutError } from '../errors/errors.js'
import { readAll } from '../content/source.js'
import { normaliseName } from './files.js'
import { isGzipFile, TarFiles } from './tar-files.js'
import { tmpDir } from '../../__tests__/helpers/skopeo.js'
import { fixChecksum, makeTar, paxBody, type Member } from '../../__tests__/helpers/tar-build.js'
import { caught, streamText } from '../../__tests__/helpers/settle.js'

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
    expect(await caught(tar.size('../x'))).toMatchObject({
      constructor: LayoutError,
      message: expect.stringMatching(/layout\.tar: \.\.\/x is outside the layout$/),
      hint: 'a layout may only link to files inside itself'
    })
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

describe('TarFiles, member by member', () => {
  it('reads contiguous files as files, and refuses a member type it does not know', async () => {
    const { file, tar } = await open([
      { path: 'contig', type: 'ContiguousFile', body: body('c') },
      { path: 'sparse', type: 'SparseFile' }
    ])
    expect(await streamText(await tar.open('contig'))).toBe('c')
    expect(() => tar.check()).toThrow(
      `${file}: sparse is a tar member of type SparseFile, not a regular file`
    )
  })

  it('takes global PAX headers, old GNU long names and GNU long link targets', async () => {
    const long = `blobs/sha256/${'e'.repeat(150)}`
    const { tar } = await open([
      { path: 'pax_global_header', type: 'GlobalExtendedHeader', body: paxBody({ comment: 'c' }) },
      { path: 'plain', body: body('p') },
      { path: long, type: 'OldGnuLongPath', body: body(`${long}\0junk`) },
      { path: 'cut', body: body('old gnu') },
      { path: '././@LongLink', type: 'NextFileHasLongLinkpath', body: body(`${long}\0`) },
      { path: 'link', type: 'SymbolicLink', linkpath: 'cut' }
    ])
    expect(() => tar.check()).not.toThrow()
    // The global header names no member: the one after it keeps its own name.
    expect(await streamText(await tar.open('plain'))).toBe('p')
    expect(await streamText(await tar.open(long))).toBe('old gnu')
    expect(await streamText(await tar.open('link'))).toBe('old gnu')
    expect(await tar.size('cut')).toBeUndefined()
  })

  it('resolves links written with backslashes, and refuses empty ones and ones to the root', async () => {
    const { file, tar } = await open([
      { path: 'blobs/sha256/aa', body: body('real') },
      { path: 'blobs/win', type: 'SymbolicLink', linkpath: 'sha256\\aa' },
      { path: 'empty', type: 'SymbolicLink', linkpath: '' },
      { path: 'blobs/empty', type: 'SymbolicLink', linkpath: '' },
      { path: 'dot', type: 'SymbolicLink', linkpath: '.' },
      { path: 'blobs/up', type: 'SymbolicLink', linkpath: '..' }
    ])
    expect(await streamText(await tar.open('blobs/win'))).toBe('real')
    await expect(tar.size('empty')).rejects.toThrow(
      `${file}: empty is a symbolic link to "" (outside the layout), not a regular file`
    )
    // In a directory too: an empty target is not the directory it sits in.
    await expect(tar.size('blobs/empty')).rejects.toThrow('blobs/empty is a symbolic link to ""')
    await expect(tar.size('dot')).rejects.toThrow('dot is a symbolic link to "."')
    await expect(tar.size('blobs/up')).rejects.toThrow('blobs/up is a symbolic link to ".."')
  })

  it('refuses absolute names written with backslashes, and takes a colon inside a name', async () => {
    for (const name of ['C:\\x', '\\etc\\passwd']) {
      const file = await tarFile(makeTar([{ path: name, body: body('x') }]))
      await expect(TarFiles.open(file)).rejects.toThrow('(an absolute name)')
    }
    const { tar } = await open([{ path: 'dir/c:/file', body: body('x') }])
    expect(await tar.size('dir/c:/file')).toBe(1)
  })

  it('shows at most 200 characters of a name or a link target in a message', async () => {
    const long = `/${'n'.repeat(300)}`
    const shown = JSON.stringify(long.slice(0, 200))
    const abs = await tarFile(makeTar([{ path: 'x', pax: { path: long }, body: body('x') }]))
    await expect(TarFiles.open(abs)).rejects.toThrow(`member ${shown} points outside`)
    const cut = makeTar([{ path: 'x', pax: { path: long.slice(1) }, body: body('x'.repeat(600)) }])
    const truncated = await tarFile(cut.subarray(0, 1024 + 512 + 100))
    await expect(TarFiles.open(truncated)).rejects.toThrow(
      `truncated tar: ${JSON.stringify(long.slice(1, 201))} ends past the end of the file`
    )
    const { tar } = await open([
      { path: 'sym', type: 'SymbolicLink', linkpath: 'x', pax: { linkpath: long } },
      { path: 'hard', type: 'Link', linkpath: 'x', pax: { linkpath: `../${long}` } }
    ])
    await expect(tar.size('sym')).rejects.toThrow(`sym is a symbolic link to ${shown} (outside`)
    await expect(tar.size('hard')).rejects.toThrow(
      `hard is a hard link to ${JSON.stringify(`../${long}`.slice(0, 200))} (outside`
    )
  })

  it('takes a member that ends at the end of the file, and an extended header of 1 MiB', async () => {
    const exact = makeTar([{ path: 'a', body: body('x'.repeat(512)) }])
    const files = await TarFiles.open(await tarFile(exact.subarray(0, 1024)))
    expect(await files.size('a')).toBe(512)
    // 7 digits, " comment=", the value and "\n": 1 MiB exactly.
    const comment = { comment: 'c'.repeat((1 << 20) - 17) }
    expect(paxBody(comment).length).toBe(1 << 20)
    const { tar } = await open([{ path: 'a', pax: comment, body: body('x') }])
    expect(await tar.size('a')).toBe(1)
  })

  it('refuses a size too large to be one', async () => {
    const huge = Buffer.from(makeTar([{ path: 'a', body: body('x') }]))
    huge[124] = 0x80 // base-256, positive
    huge.fill(0xff, 125, 136)
    fixChecksum(huge, 0)
    const file = await tarFile(huge)
    // node-tar refuses it as it parses the header; the reason is passed on.
    expect(await caught(TarFiles.open(file))).toMatchObject({
      constructor: LayoutError,
      message: `${file}: corrupt tar header at byte 0 (parsed number outside of javascript safe integer range)`
    })
  })

  it('applies a global PAX record to every member after it, a local one to the next only', async () => {
    // A size record shows it: the members' own headers say 2 bytes, the records 1.
    const { tar } = await open([
      { path: 'pax_global_header', type: 'GlobalExtendedHeader', body: paxBody({ size: '1' }) },
      { path: 'a', body: body('aa') },
      { path: 'b', body: body('bb') },
      { path: 'c', pax: { size: '2' }, body: body('cc') },
      { path: 'd', body: body('dd') }
    ])
    expect([
      await tar.size('a'),
      await tar.size('b'),
      await tar.size('c'),
      await tar.size('d')
    ]).toEqual([1, 1, 2, 1])
  })

  it('a read that fails names the tar and the member', async () => {
    const { file, tar } = await open([{ path: 'a', body: body('x') }])
    const r = await tar.reader('a')
    // Readers share the tar's handle, which closes with the tar.
    await tar.close()
    expect(await caught(r.read(Buffer.alloc(1), 0))).toMatchObject({
      constructor: LayoutError,
      message: `${file}: a: cannot be read (EBADF)`
    })
  })

  it('a tar removed after it was indexed is named when read', async () => {
    const { file, tar } = await open([{ path: 'a', body: body('x') }])
    await rm(file)
    expect(await caught(tar.reader('a'))).toMatchObject({
      constructor: LayoutError,
      message: `layout ${file} cannot be read (ENOENT)`,
      cause: expect.objectContaining({ code: 'ENOENT' })
    })
    expect(await caught(streamText(await tar.open('a')))).toMatchObject({
      constructor: LayoutError,
      message: `${file}: a: cannot be read (ENOENT)`
    })
  })

  it('leaves no file open behind it', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length
    const plain = await tarFile(makeTar([{ path: 'a', body: body('x') }]))
    const gz = await tarFile(gzipSync(makeTar([{ path: 'a', body: body('x') }])), 'l.tar.gz')
    const before = fds()
    for (let i = 0; i < 5; i++) {
      await isGzipFile(plain)
      await (await TarFiles.open(plain)).close()
      await (await TarFiles.open(gz)).close()
      await caught(TarFiles.open(await tarFile(Buffer.from('hello'))))
    }
    expect(fds()).toBe(before)
  })

  it('reads every member through one handle, closed with the tar', async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length
    const names = Array.from({ length: 20 }, (_, i) => `m${i}`)
    const { tar } = await open(names.map((n) => ({ path: n, body: body(n) })))
    const before = fds()
    const readers = await Promise.all(names.map((n) => tar.reader(n)))
    for (const [i, r] of readers.entries()) {
      const buf = Buffer.alloc(r.size)
      expect(await r.read(buf, 0)).toBe(r.size)
      expect(buf.toString()).toBe(names[i])
    }
    // Opening the tar per member cost about 1 ms of the main thread each (1,000 small layers).
    expect(fds()).toBe(before + 1)
    for (const r of readers) await r.close()
    expect(fds()).toBe(before + 1)
    await tar.close()
    expect(fds()).toBe(before)
  })
})

describe('gzip-compressed tars', () => {
  it('are told by their first bytes, read through a temporary copy, removed on close', async () => {
    const tar = makeTar([{ path: 'index.json', body: body('{}') }])
    const file = await tarFile(gzipSync(tar), 'layout.tar.gz')
    expect(await isGzipFile(file)).toBe(true)
    expect(await isGzipFile(await tarFile(tar))).toBe(false)
    for (const start of [[0x1f], [0x1f, 0x00], [0x00, 0x8b], [0x8b, 0x1f]])
      expect(await isGzipFile(await tarFile(Buffer.from(start)))).toBe(false)
    const temp = await tmpDir('gz-temp-')
    const files = await TarFiles.open(file, { tempDir: temp })
    expect(await streamText(await files.open('index.json'))).toBe('{}')
    expect((await readdir(temp)).length).toBe(1)
    await files.close()
    expect(await readdir(temp)).toEqual([])
    await files.close() // closing twice is harmless
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

const execFileP = promisify(execFile)

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
