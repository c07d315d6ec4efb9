// Blobs larger than a slab and than the hashing thread's threshold, against the real registry:
// pushed from a tar and a directory through pooled slabs and hashed off the main thread, pulled
// with bodies read straight into slabs, checked by skopeo and oci-image-tool. Corruption either
// way is caught before the last slab is passed on.
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { open, readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { BlobCursor, readerSource } from '../../src/content/blob-cursor.js'
import { LayoutError } from '../../src/errors/errors.js'
import { WORKER_MIN_BYTES } from '../../src/slabs/thread.js'
import type { BlobContent } from '../../src/content/sink.js'
import { writeContentAt } from '../../src/layout/files.js'
import { SLAB_SIZE } from '../../src/slabs/pool.js'
import { pull } from '../../src/transfer/pull.js'
import { push } from '../../src/transfer/push.js'
import { runAction } from '../helpers/action.js'
import { startProxy } from '../helpers/proxy.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { copyToOciDir, remoteDigest, tmpDir } from '../helpers/skopeo.js'
import { checkLayout, extractTar, ociImageToolValidate } from '../helpers/verify.js'

const execFileP = promisify(execFile)

interface Sample {
  path: string
  digest: string
  layers: { digest: string; size: number }[]
}

const BIG = WORKER_MIN_BYTES * 2 + 12_345

async function makeSample(dir: string, format: 'tar' | 'dir'): Promise<Sample> {
  const out = path.join(dir, format === 'tar' ? 'big.tar' : 'big-dir')
  const { stdout } = await execFileP(process.execPath, [
    'scripts/gen-layout.mjs',
    '--out',
    out,
    '--format',
    format,
    '--platforms',
    'linux/amd64',
    '--layers',
    `${BIG},${SLAB_SIZE + 1},1000`,
    '--tags',
    'v1',
    '--seed',
    '11'
  ])
  const r = JSON.parse(stdout) as { digest: string }
  const manifest = JSON.parse(
    await readFile(
      format === 'dir'
        ? path.join(out, 'blobs/sha256', r.digest.slice(7))
        : await memberOf(out, r.digest),
      'utf8'
    )
  ) as { layers: { digest: string; size: number }[] }
  return { path: out, digest: r.digest, layers: manifest.layers }
}

/** Extracts a layout tar and returns the path of one blob in it. */
async function memberOf(tar: string, digest: string): Promise<string> {
  return path.join(await extractTar(tar), 'blobs/sha256', digest.slice(7))
}

async function blobStatus(host: string, repo: string, digest: string): Promise<number> {
  return (await fetch(`http://${host}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status
}

describe('blobs larger than a slab', () => {
  let reg: TestRegistry
  let work: string
  let tarSample: Sample
  let dirSample: Sample
  beforeAll(async () => {
    reg = await startRegistry()
    work = await tmpDir('large-')
    tarSample = await makeSample(work, 'tar')
    dirSample = await makeSample(work, 'dir')
  }, 60_000)
  afterAll(async () => {
    await reg.stop()
  })

  it('the sample has a blob over the hashing threshold and one just over a slab', () => {
    expect(tarSample.layers.some((l) => l.size >= WORKER_MIN_BYTES)).toBe(true)
    expect(tarSample.layers.some((l) => l.size > SLAB_SIZE && l.size < 2 * SLAB_SIZE)).toBe(true)
    expect(dirSample.digest).toBe(tarSample.digest)
  })

  it('pushes from a tar and a directory; skopeo reads back the same digest and every blob', async () => {
    for (const [sample, repo] of [
      [tarSample, 'big/tar'],
      [dirSample, 'big/dir']
    ] as const) {
      const r = await push({
        layout: `${sample.path}:v1`,
        registry: reg.host,
        reference: `${repo}:v1`
      })
      expect(r.digest).toBe(sample.digest)
      expect(await remoteDigest(`${reg.host}/${repo}:v1`)).toBe(sample.digest)
      const copy = await tmpDir('skopeo-copy-')
      await copyToOciDir(`${reg.host}/${repo}:v1`, copy)
      await checkLayout(copy)
    }
  })

  it('pulls into a directory and a tar, complete and valid', async () => {
    const dir = path.join(work, 'pulled')
    const r = await pull({ layout: dir, registry: reg.host, reference: 'big/tar:v1' })
    expect(r.digest).toBe(tarSample.digest)
    const { blobs } = await checkLayout(dir)
    expect(blobs).toBe(5)
    await ociImageToolValidate(dir)
    for (const l of tarSample.layers)
      expect((await stat(path.join(dir, 'blobs/sha256', l.digest.slice(7)))).size).toBe(l.size)

    const tar = path.join(work, 'pulled.tar')
    await pull({ layout: tar, registry: reg.host, reference: 'big/tar:v1' })
    await checkLayout(await extractTar(tar))
  })

  it('a large blob corrupted in the layout is never completed at the registry', async () => {
    const dir = path.join(work, 'corrupt-dir')
    await execFileP('cp', ['-r', dirSample.path, dir])
    const big = tarSample.layers.find(
      (l) => l.size === Math.max(...tarSample.layers.map((x) => x.size))
    )
    if (!big) throw new Error('no big layer')
    const file = path.join(dir, 'blobs/sha256', big.digest.slice(7))
    const fh = await open(file, 'r+')
    await fh.write(Buffer.from([0x55]), 0, 1, big.size - 10)
    await fh.close()
    await expect(
      push({ layout: `${dir}:v1`, registry: reg.host, reference: 'big/corrupt:v1' })
    ).rejects.toMatchObject({
      message: expect.stringMatching(
        new RegExp(`blob ${big.digest} in .*: content does not match its digest`)
      ),
      // The layout is at fault here, not the registry.
      hint: expect.stringMatching(/^the layout is corrupt/)
    })
    // The upload was cut before its last bytes: the registry holds neither the blob nor the image.
    expect(await blobStatus(reg.host, 'big/corrupt', big.digest)).toBe(404)
    expect(
      (
        await fetch(`http://${reg.host}/v2/big/corrupt/manifests/v1`, {
          method: 'HEAD',
          headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' }
        })
      ).status
    ).toBe(404)
  })

  it('a large blob the registry serves wrong fails the pull and leaves no blob behind', async () => {
    const big = tarSample.layers.find((l) => l.size >= WORKER_MIN_BYTES) as { digest: string }
    const proxy = await startProxy(reg.host, (req, res, p) => {
      if (!req.url?.includes(`/blobs/${big.digest}`) || req.method !== 'GET') return false
      // Same length, one byte changed, far into the body.
      p.forward(req, res, {})
      const write = res.write.bind(res)
      let seen = 0
      res.write = ((chunk: Buffer, ...rest: never[]) => {
        const copy = Buffer.from(chunk)
        if (seen <= 3_000_000 && seen + copy.length > 3_000_000) copy[3_000_000 - seen] ^= 0xff
        seen += copy.length
        return write(copy, ...rest)
      }) as typeof res.write
      return true
    })
    try {
      const dir = path.join(work, 'bad-pull')
      const err = await pull({
        layout: dir,
        registry: proxy.host,
        reference: 'big/tar:v1',
        retries: 0
      }).then(
        (): Error & { hint?: string } => new Error('pulled'),
        (e: unknown) => e as Error & { hint?: string }
      )
      expect(err.message).toMatch(
        new RegExp(`blob ${big.digest} in .*: content does not match its digest`)
      )
      // The registry's answer is at fault, not a layout.
      expect(err.hint).toMatch(
        /^the registry \(or a proxy in front of it\) answered with other bytes/
      )
      const files = await readdir(path.join(dir, 'blobs/sha256')).catch(() => [])
      expect(files.filter((f) => f.startsWith(big.digest.slice(7)))).toEqual([])
    } finally {
      await proxy.stop()
    }
  })

  it('the bundled action pulls and exits by itself, with the digest output', async () => {
    const dir = path.join(work, 'action-pull')
    const run = await runAction({
      direction: 'pull',
      layout: dir,
      registry: reg.host,
      reference: 'big/dir:v1'
    })
    expect(run.code).toBe(0)
    expect(run.outputs.digest).toBe(dirSample.digest)
    await checkLayout(dir)
  })
})

describe('writing a blob into a file', () => {
  const contentOf = (bytes: Buffer): BlobContent => ({
    size: bytes.length,
    open: async () =>
      new BlobCursor(
        readerSource({
          size: bytes.length,
          read: async (buf, position) => bytes.copy(buf, 0, position),
          close: async () => undefined
        }),
        {
          digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
          size: bytes.length
        },
        'test blob'
      )
  })

  it.each([
    ['on the slab thread', WORKER_MIN_BYTES + 1],
    ['on the main thread', SLAB_SIZE * 3]
  ])('writes every byte %s, and reports a failed write as a layout error', async (_where, size) => {
    const dir = await tmpDir('write-')
    const bytes = randomBytes(size)
    const file = path.join(dir, 'blob')
    const fh = await open(file, 'w')
    expect(await writeContentAt(fh, contentOf(bytes), 100, file, { inOrder: true })).toBe(size)
    await fh.close()
    const written = await readFile(file)
    expect(written.length).toBe(size + 100)
    expect(written.subarray(100).equals(bytes)).toBe(true)

    // A descriptor open for reading only: every write fails.
    const ro = await open(file, 'r')
    const err = await writeContentAt(ro, contentOf(bytes), 0, file, { inOrder: true }).catch(
      (e: unknown) => e
    )
    await ro.close()
    expect(err).toBeInstanceOf(LayoutError)
    expect((err as Error).message).toMatch(/cannot be written \(EBADF\)/)
  })
})
