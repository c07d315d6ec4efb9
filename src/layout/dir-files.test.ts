// The layout directory reader in-process (mutation testing sees these): names are normalised and
// kept inside the layout, links are followed only while they stay inside, and only regular files
// are read; fs errors become one line naming the file.
import { execFileSync } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { LayoutError } from '../errors/errors.js'
import { DirFiles } from './dir-files.js'
import { tmpDir } from '../../__tests__/helpers/skopeo.js'
import { caught, streamText } from '../../__tests__/helpers/settle.js'

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
