// The layout directory reader in-process (mutation testing sees these): names are normalised and
// kept inside the layout, links are followed only while they stay inside, and only regular files
// are read; fs errors become one line naming the file.
import { execFileSync } from 'node:child_process'
import { lstatSync, statSync, type Stats } from 'node:fs'
import { mkdir, open, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import path from 'node:path'
import { Readable } from 'node:stream'
import { LayoutError, OciError } from '../src/errors/errors.js'
import { DirFiles, fileKind } from '../src/layout/dir-files.js'
import { fsReason, guardStream, normaliseName, rangeReader } from '../src/layout/files.js'
import { tmpDir } from './helpers/skopeo.js'
import { caught, streamText } from './helpers/settle.js'

/** A layout directory with index.json and one blob, inside a parent that holds other things. */
async function layoutDir(): Promise<{ parent: string; dir: string; files: DirFiles }> {
  const parent = await tmpDir('dirfiles-')
  const dir = path.join(parent, 'lay')
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true })
  await writeFile(path.join(dir, 'index.json'), '{"schemaVersion":2}')
  await writeFile(path.join(dir, 'blobs', 'sha256', 'aa'), 'blob bytes')
  // A sibling whose name starts with the layout's: a link there leaves the layout too.
  await mkdir(path.join(parent, 'lay-other'))
  await writeFile(path.join(parent, 'lay-other', 'secret'), 'secret')
  await writeFile(path.join(parent, 'outside'), 'outside')
  return { parent, dir, files: await DirFiles.open(dir) }
}

describe('DirFiles', () => {
  it('reads a file by its size, as a stream and at random', async () => {
    const { dir, files } = await layoutDir()
    expect(files.location).toBe(dir)
    expect(await files.size('blobs/sha256/aa')).toBe(10)
    expect(await streamText(await files.open('blobs/sha256/aa'))).toBe('blob bytes')
    const r = await files.reader('blobs/sha256/aa')
    expect(r.size).toBe(10)
    const buf = Buffer.alloc(5)
    expect(await r.read(buf, 5)).toBe(5)
    expect(buf.toString()).toBe('bytes')
    expect(await r.read(buf, 10)).toBe(0)
    await r.close()
    await files.close()
  })

  it('normalises names, and has nothing for a name that leaves it or is empty', async () => {
    const { files } = await layoutDir()
    for (const name of ['./index.json', '/index.json', 'blobs//sha256/../../index.json'])
      expect(await files.size(name)).toBe(19)
    for (const name of ['', '.', '../outside', 'blobs/../../outside', 'index.json/x', 'nope'])
      expect(await files.size(name)).toBeUndefined()
    expect(await caught(files.open('nope'))).toMatchObject({
      constructor: LayoutError,
      message: expect.stringMatching(/lay: nope is missing$/)
    })
  })

  it('follows a link inside the layout, and refuses one that leaves it or loops', async () => {
    const { parent, dir, files } = await layoutDir()
    await symlink('../../index.json', path.join(dir, 'blobs', 'sha256', 'in'))
    expect(await files.size('blobs/sha256/in')).toBe(19)
    for (const target of [path.join(parent, 'outside'), path.join(parent, 'lay-other', 'secret')]) {
      const link = path.join(dir, 'blobs', 'sha256', path.basename(target))
      await symlink(target, link)
      const err = await caught(files.size(`blobs/sha256/${path.basename(target)}`))
      expect(err).toBeInstanceOf(LayoutError)
      expect(err).toMatchObject({
        message: `${dir}: blobs/sha256/${path.basename(target)} links outside the layout`,
        hint: 'a layout may only link to files inside itself'
      })
    }
    await symlink('loop-b', path.join(dir, 'loop-a'))
    await symlink('loop-a', path.join(dir, 'loop-b'))
    expect(await caught(files.open('loop-a'))).toMatchObject({
      message: `${dir}: loop-a is a symbolic link loop`,
      hint: 'a layout may only link to files inside itself'
    })
  })

  it('refuses what is not a regular file, without opening it', async () => {
    const { dir, files } = await layoutDir()
    await symlink('.', path.join(dir, 'self'))
    for (const name of ['blobs', 'self']) {
      const err = await caught(files.size(name))
      expect(err).toBeInstanceOf(LayoutError)
      expect(err).toMatchObject({
        message: `${dir}: ${name} is a directory, not a regular file`,
        hint: 'a layout holds only regular files'
      })
      await expect(files.reader(name)).rejects.toThrow(/is a directory, not a regular file/)
    }
    execFileSync('mkfifo', [path.join(dir, 'fifo')])
    // A read would wait for a writer for ever: refused before that.
    await expect(files.open('fifo')).rejects.toThrow(`${dir}: fifo is a FIFO, not a regular file`)
  })

  it('names a layout it cannot open', async () => {
    const { parent } = await layoutDir()
    const missing = path.join(parent, 'missing')
    expect(await caught(DirFiles.open(missing))).toMatchObject({
      constructor: LayoutError,
      message: `layout ${missing} cannot be read (ENOENT)`,
      cause: expect.objectContaining({ code: 'ENOENT' })
    })
  })

  it('streams a file in pieces of 1 MiB', async () => {
    const { dir, files } = await layoutDir()
    await writeFile(path.join(dir, 'big'), Buffer.alloc(3 << 20, 1))
    const stream = await files.open('big')
    expect(stream.readableHighWaterMark).toBe(1 << 20)
    const sizes: number[] = []
    for await (const chunk of stream) sizes.push((chunk as Buffer).length)
    expect(sizes).toEqual([1 << 20, 1 << 20, 1 << 20])
  })
})

describe('file helpers', () => {
  it('normaliseName drops ./, leading / and backslashes, and refuses a climb out', () => {
    expect(normaliseName('./blobs/sha256/aa')).toBe('blobs/sha256/aa')
    expect(normaliseName('/index.json')).toBe('index.json')
    expect(normaliseName('blobs\\sha256\\aa')).toBe('blobs/sha256/aa')
    expect(normaliseName('a/b/../c')).toBe('a/c')
    expect(normaliseName('a/../../c')).toBeUndefined()
    expect(normaliseName('..')).toBeUndefined()
    expect(normaliseName('./')).toBe('')
  })

  it('fsReason gives the code, else the message, else the value', () => {
    expect(fsReason(Object.assign(new Error('boom'), { code: 'EIO' }))).toBe('EIO')
    expect(fsReason(new Error('boom'))).toBe('boom')
    expect(fsReason('plain')).toBe('plain')
    expect(fsReason(undefined)).toBe('undefined')
  })

  it('fileKind names each kind of file', async () => {
    expect(fileKind(statSync('/dev/null'))).toBe('a character device')
    expect(fileKind(statSync('/'))).toBe('a directory')
    const dir = await tmpDir('kinds-')
    execFileSync('mkfifo', [path.join(dir, 'fifo')])
    expect(fileKind(statSync(path.join(dir, 'fifo')))).toBe('a FIFO')
    await symlink('fifo', path.join(dir, 'link'))
    expect(fileKind(lstatSync(path.join(dir, 'link')))).toBe('a symbolic link')
    const server = createServer()
    await new Promise<void>((r) => server.listen(path.join(dir, 'sock'), r))
    try {
      expect(fileKind(statSync(path.join(dir, 'sock')))).toBe('a socket')
    } finally {
      await new Promise((r) => server.close(r))
    }
    // No block device can be counted on here: a stat that says so, and one that says nothing.
    const kind = (which?: string): Stats => {
      const is = (k: string) => () => k === which
      return {
        isDirectory: is('dir'),
        isFIFO: is('fifo'),
        isCharacterDevice: is('char'),
        isBlockDevice: is('block'),
        isSocket: is('socket'),
        isSymbolicLink: is('link')
      } as unknown as Stats
    }
    expect(fileKind(kind('block'))).toBe('a block device')
    expect(fileKind(kind())).toBe('not a regular file')
  })

  it('guardStream names the file in a read error, and passes our own errors on', async () => {
    const failing = new Readable({ read() {} })
    const guarded = guardStream(failing, 'lay: blobs/sha256/aa')
    failing.destroy(Object.assign(new Error('x'), { code: 'EIO' }))
    const err = await caught(streamText(guarded))
    expect(err).toBeInstanceOf(LayoutError)
    expect(String(err)).toContain('lay: blobs/sha256/aa: cannot be read (EIO)')
    expect(err).toMatchObject({ cause: expect.objectContaining({ code: 'EIO' }) })
    const ours = new OciError('already said')
    const source = new Readable({ read() {} })
    const out = guardStream(source, 'w')
    source.destroy(ours)
    expect(await caught(streamText(out))).toBe(ours)
    // Destroying what was handed out destroys the file stream under it.
    const under = new Readable({ read() {} })
    guardStream(under, 'w').destroy()
    await new Promise((r) => setImmediate(r))
    expect(under.destroyed).toBe(true)
  })

  it('rangeReader reads its range only, and names the file when a read fails', async () => {
    const dir = await tmpDir('range-')
    const file = path.join(dir, 'f')
    await writeFile(file, '0123456789')
    const fh = await open(file, 'r')
    const r = rangeReader(fh, 2, 5, 'tar: member')
    const buf = Buffer.alloc(10)
    expect(await r.read(buf, 0)).toBe(5)
    expect(buf.subarray(0, 5).toString()).toBe('23456')
    expect(await r.read(buf, 3)).toBe(2)
    expect(buf.subarray(0, 2).toString()).toBe('56')
    expect(await r.read(buf, 5)).toBe(0)
    expect(await r.read(buf, 9)).toBe(0)
    await fh.close()
    const err = await caught(r.read(buf, 0))
    expect(err).toBeInstanceOf(LayoutError)
    expect(String(err)).toMatch(/tar: member: cannot be read \(EBADF\)/)
    expect(err).toMatchObject({ cause: expect.objectContaining({ code: 'EBADF' }) })
    // At the end of the range nothing is read, so a closed handle does not matter.
    expect(await r.read(buf, 5)).toBe(0)
    await r.close() // closing twice is harmless
    const fh2 = await open(file, 'r')
    await rangeReader(fh2, 0, 10, 'f').close()
    expect(fh2.fd).toBe(-1)
  })
})
