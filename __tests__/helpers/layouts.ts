// Builders for small layouts the shared fixtures do not cover (zstd layers, Docker media types,
// full-reference names), and copies of fixtures that a test may modify.
import { existsSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { CORPUS_DIR, layoutIn, MADE } from './corpus.js'
import { tmpDir } from './skopeo.js'

const execFileP = promisify(execFile)

export interface Desc {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
  platform?: { os: string; architecture: string; variant?: string }
}

export const sha256 = (b: Buffer): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`

export async function writeBlob(dir: string, mediaType: string, bytes: Buffer): Promise<Desc> {
  const digest = sha256(bytes)
  await mkdir(path.join(dir, 'blobs/sha256'), { recursive: true })
  await writeFile(path.join(dir, 'blobs/sha256', digest.slice(7)), bytes)
  return { mediaType, digest, size: bytes.length }
}

export async function writeJsonBlob(dir: string, mediaType: string, json: unknown): Promise<Desc> {
  return writeBlob(dir, mediaType, Buffer.from(JSON.stringify(json)))
}

export async function writeIndex(
  dir: string,
  manifests: Desc[],
  extra: Record<string, unknown> = {}
): Promise<void> {
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests,
      ...extra
    })
  )
}

/** A zstd frame made of raw (stored) blocks: valid zstd that any decoder reads, without a zstd library. */
export function zstdFrame(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0])]
  const fcs = Buffer.alloc(8)
  fcs.writeBigUInt64LE(BigInt(data.length))
  parts.push(fcs)
  const max = 128 * 1024
  for (let off = 0; off < data.length || off === 0; off += max) {
    const chunk = data.subarray(off, off + max)
    const last = off + max >= data.length ? 1 : 0
    const h = (chunk.length << 3) | last // block type 0 = raw
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]), chunk)
    if (data.length === 0) break
  }
  return Buffer.concat(parts)
}

/** A one-file tar, built with the system tar so its bytes are a real archive. */
export async function tarOf(name: string, content: Buffer): Promise<Buffer> {
  const dir = await tmpDir('tar-src-')
  try {
    await writeFile(path.join(dir, name), content)
    const { stdout } = await execFileP(
      'tar',
      ['--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', dir, '-cf', '-', name],
      {
        encoding: 'buffer',
        maxBuffer: 64 << 20
      }
    )
    return stdout
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export interface ImageSpec {
  manifestType?: 'oci' | 'docker'
  layerCompression?: 'gzip' | 'zstd'
  tag?: string
  /** Written as ref.name; defaults to the tag. */
  refName?: string
  content?: string
}

/** A single-platform image layout directory. */
export async function makeImageLayout(
  spec: ImageSpec = {}
): Promise<{ dir: string; manifest: Desc }> {
  const dir = await tmpDir('layout-')
  const docker = spec.manifestType === 'docker'
  const layerTar = await tarOf(
    'hello.txt',
    Buffer.from(spec.content ?? 'hello from a test layout\n')
  )
  let layerBytes: Buffer
  let layerType: string
  if (spec.layerCompression === 'zstd') {
    layerBytes = zstdFrame(layerTar)
    layerType = docker
      ? 'application/vnd.docker.image.rootfs.diff.tar.zstd'
      : 'application/vnd.oci.image.layer.v1.tar+zstd'
  } else {
    const { gzipSync } = await import('node:zlib')
    layerBytes = gzipSync(layerTar)
    layerType = docker
      ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
      : 'application/vnd.oci.image.layer.v1.tar+gzip'
  }
  const layer = await writeBlob(dir, layerType, layerBytes)
  const config = await writeJsonBlob(
    dir,
    docker
      ? 'application/vnd.docker.container.image.v1+json'
      : 'application/vnd.oci.image.config.v1+json',
    {
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/hello'] },
      rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] }
    }
  )
  const mediaType = docker
    ? 'application/vnd.docker.distribution.manifest.v2+json'
    : 'application/vnd.oci.image.manifest.v1+json'
  const manifest = await writeJsonBlob(dir, mediaType, {
    schemaVersion: 2,
    mediaType,
    config,
    layers: [layer]
  })
  const tag = spec.tag ?? 'v1'
  await writeIndex(dir, [
    { ...manifest, annotations: { 'org.opencontainers.image.ref.name': spec.refName ?? tag } }
  ])
  return { dir, manifest }
}

/** A writable copy of a fixture (the made corpus first, then ../shared): a directory copied, a tar extracted. */
export async function fixtureCopy(name: string): Promise<string> {
  const made = path.join(CORPUS_DIR, name)
  const src = existsSync(made) ? made : layoutIn(MADE, name)
  const dir = await tmpDir('fixture-')
  if (name.endsWith('.tar')) await execFileP('tar', ['-xf', src, '-C', dir])
  else await cp(src, dir, { recursive: true })
  return dir
}

export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T
}

const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json'

/** An image with several artifacts pointing at it, stored as untagged index.json entries. */
export async function imageWithArtifacts(
  kinds: string[]
): Promise<{ dir: string; image: Desc; artifacts: Desc[] }> {
  const { dir, manifest } = await makeImageLayout({ tag: 'v1', content: 'image with artifacts\n' })
  const empty = await writeJsonBlob(dir, EMPTY_CONFIG, {})
  const artifacts: Desc[] = []
  for (const kind of kinds) {
    const layer = await writeJsonBlob(dir, `application/vnd.test.${kind}+json`, { kind })
    const a = await writeJsonBlob(dir, 'application/vnd.oci.image.manifest.v1+json', {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: `application/vnd.test.${kind}`,
      config: { ...empty, mediaType: EMPTY_CONFIG },
      layers: [layer],
      subject: { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size },
      annotations: { 'org.opencontainers.image.title': kind }
    })
    artifacts.push(a)
  }
  await writeIndex(dir, [
    { ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } },
    ...artifacts
  ])
  return { dir, image: manifest, artifacts }
}
