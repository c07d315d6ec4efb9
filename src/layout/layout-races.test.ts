// The layout readers when the disk changes under them, in-process (mutation testing sees these).
// node:fs is wrapped so a test can act between two of the reader's own calls: remove a file after
// its check, swap in a FIFO or a link before the open, fail a read, fill the disk. The calls
// themselves are the real ones.
import { jest } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import type * as FsPromises from 'node:fs/promises'
import type * as Fs from 'node:fs'
import path from 'node:path'
import { gzipSync } from 'node:zlib'

type Hook = (file: string) => Promise<void> | void
const hooks: {
  beforeStat?: Hook
  beforeOpen?: Hook
  /** Changes the handle the reader gets (its own methods shadowed). */
  opened?: (fh: FsPromises.FileHandle, file: string) => void
  /** Where a write stream to `file` really goes. */
  writeTo?: (file: string) => string
} = {}

const realFsp = await import('node:fs/promises')
const realFs = await import('node:fs')
jest.unstable_mockModule('node:fs/promises', () => ({
  ...realFsp,
  default: realFsp,
  stat: async (...args: Parameters<typeof FsPromises.stat>) => {
    await hooks.beforeStat?.(String(args[0]))
    return realFsp.stat(...args)
  },
  open: async (...args: Parameters<typeof FsPromises.open>) => {
    await hooks.beforeOpen?.(String(args[0]))
    const fh = await realFsp.open(...args)
    hooks.opened?.(fh, String(args[0]))
    return fh
  }
}))
jest.unstable_mockModule('node:fs', () => ({
  ...realFs,
  default: realFs,
  createWriteStream: (file: Fs.PathLike, opts?: Parameters<typeof Fs.createWriteStream>[1]) =>
    realFs.createWriteStream(hooks.writeTo?.(String(file)) ?? file, opts)
}))

const { DirFiles } = await import('./dir-files.js')
const { TarFiles } = await import('./tar-files.js')
const { LayoutError } = await import('../errors/errors.js')
const { tmpDir } = await import('../../__tests__/helpers/skopeo.js')
const { caught, streamText } = await import('../../__tests__/helpers/settle.js')
const { makeTar } = await import('../../__tests__/helpers/tar-build.js')
const { mkdir, readdir, rename, rm, symlink, writeFile } = realFsp

afterEach(() => {
  for (const k of Object.keys(hooks)) delete hooks[k as keyof typeof hooks]
})

const errno = (code: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: injected`), { code })

/** A layout directory with one blob, and a file outside it. */
async function layout(): Promise<{ dir: string; blob: string; outside: string }> {
  const parent = await tmpDir('races-')
  const dir = path.join(parent, 'lay')
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true })
  const blob = path.join(dir, 'blobs', 'sha256', 'aa')
  await writeFile(blob, 'blob bytes')
  const outside = path.join(parent, 'outside')
  await writeFile(outside, 'secret')
  return { dir, blob, outside }
}

/** Runs `act` once, the first time the hooked call reaches `file`. */
const once = (file: string, act: () => Promise<void> | void): Hook => {
  let done = false
  return async (f) => {
    if (done || f !== file) return
    done = true
    await act()
  }
}

describe('a layout directory changing under the reader', () => {
  it('a file removed, or its directory replaced by a file, after its check is missing', async () => {
    const { dir, blob } = await layout()
    const files = await DirFiles.open(dir)
    hooks.beforeStat = once(blob, () => rm(blob))
    expect(await files.size('blobs/sha256/aa')).toBeUndefined()
    await writeFile(blob, 'blob bytes')
    const sha = path.dirname(blob)
    hooks.beforeStat = once(blob, async () => {
      await rename(sha, `${sha}.old`)
      await writeFile(sha, 'a file where the directory was')
    })
    expect(await files.size('blobs/sha256/aa')).toBeUndefined()
  })

  it('a file that turned into a link loop after its check cannot be read, and says why', async () => {
    const { dir, blob } = await layout()
    const files = await DirFiles.open(dir)
    hooks.beforeStat = once(blob, async () => {
      await rm(blob)
      await symlink('aa', blob)
    })
    const err = await caught(files.size('blobs/sha256/aa'))
    expect(err).toBeInstanceOf(LayoutError)
    expect(err).toMatchObject({
      message: `${dir}: blobs/sha256/aa cannot be read (ELOOP)`,
      cause: expect.objectContaining({ code: 'ELOOP' })
    })
  })

  it('a name the file system refuses is named, with the reason', async () => {
    const { dir } = await layout()
    const files = await DirFiles.open(dir)
    const long = 'x'.repeat(300)
    const err = await caught(files.size(long))
    expect(err).toMatchObject({
      constructor: LayoutError,
      message: `${dir}: ${long} cannot be read (ENAMETOOLONG)`,
      cause: expect.objectContaining({ code: 'ENAMETOOLONG' })
    })
  })

  it('a link to outside swapped in between the check and the open is not followed', async () => {
    const { dir, blob, outside } = await layout()
    const files = await DirFiles.open(dir)
    hooks.beforeOpen = once(blob, async () => {
      await rm(blob)
      await symlink(outside, blob)
    })
    const err = await caught(files.open('blobs/sha256/aa'))
    expect(err).toMatchObject({
      constructor: LayoutError,
      message: `${dir}: blobs/sha256/aa cannot be opened (ELOOP)`,
      cause: expect.objectContaining({ code: 'ELOOP' })
    })
  })

  it('a FIFO swapped in between the check and the open is refused, not waited on', async () => {
    const { dir, blob } = await layout()
    const files = await DirFiles.open(dir)
    for (const read of [(n: string) => files.open(n), (n: string) => files.reader(n)]) {
      hooks.beforeOpen = once(blob, async () => {
        await rm(blob)
        execFileSync('mkfifo', [blob])
      })
      // Without O_NONBLOCK the open would wait for a writer, and this test would time out.
      expect(await caught(read('blobs/sha256/aa'))).toMatchObject({
        constructor: LayoutError,
        message: `${dir}: blobs/sha256/aa is a FIFO, not a regular file`
      })
      await rm(blob)
      await writeFile(blob, 'blob bytes')
    }
  })

  it('a file whose handle cannot be examined is closed and named', async () => {
    const { dir, blob } = await layout()
    const files = await DirFiles.open(dir)
    let handle: FsPromises.FileHandle | undefined
    hooks.opened = (fh, file) => {
      if (file !== blob) return
      handle = fh
      fh.stat = (() => Promise.reject(errno('EIO'))) as typeof fh.stat
    }
    const err = await caught(files.reader('blobs/sha256/aa'))
    expect(err).toMatchObject({
      constructor: LayoutError,
      message: `${dir}: blobs/sha256/aa cannot be read (EIO)`,
      cause: expect.objectContaining({ code: 'EIO' })
    })
    expect(handle?.fd).toBe(-1)
  })

  it('a read that fails names the layout and the file, as a stream and at random', async () => {
    const { dir, blob } = await layout()
    const files = await DirFiles.open(dir)
    hooks.opened = (fh, file) => {
      if (file === blob) fh.read = () => Promise.reject(errno('EIO'))
    }
    const what = `${dir}: blobs/sha256/aa: cannot be read (EIO)`
    expect(await caught(streamText(await files.open('blobs/sha256/aa')))).toMatchObject({
      constructor: LayoutError,
      message: what
    })
    const r = await files.reader('blobs/sha256/aa')
    expect(await caught(r.read(Buffer.alloc(4), 0))).toMatchObject({ message: what })
    await r.close()
  })
})

describe('a layout tar changing under the reader', () => {
  it('a tar removed between the format check and the index is named', async () => {
    const file = path.join(await tmpDir('races-tar-'), 'layout.tar')
    await writeFile(file, makeTar([{ path: 'index.json', body: Buffer.from('{}') }]))
    let opens = 0
    hooks.beforeOpen = async (f) => {
      if (f === file && ++opens === 2) await rm(file)
    }
    expect(await caught(TarFiles.open(file))).toMatchObject({
      constructor: LayoutError,
      message: `layout ${file} cannot be read (ENOENT)`,
      cause: expect.objectContaining({ code: 'ENOENT' })
    })
  })

  it('a disk that fills while a gzip tar is decompressed is named, and nothing is left', async () => {
    const parent = await tmpDir('races-gz-')
    const file = path.join(parent, 'layout.tar.gz')
    await writeFile(file, gzipSync(makeTar([{ path: 'index.json', body: Buffer.from('{}') }])))
    const temp = path.join(parent, 'temp')
    await mkdir(temp)
    let dir = ''
    hooks.writeTo = (f) => {
      dir = path.dirname(f)
      return '/dev/full'
    }
    const err = await caught(TarFiles.open(file, { tempDir: temp }))
    expect(err).toMatchObject({
      constructor: LayoutError,
      message: `${file}: cannot decompress into ${dir} (ENOSPC)`,
      cause: expect.objectContaining({ code: 'ENOSPC' })
    })
    expect(dir.startsWith(path.join(temp, 'oci-layout-'))).toBe(true)
    expect(await readdir(temp)).toEqual([])
  })
})
