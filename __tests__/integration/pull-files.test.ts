// `oci-layout pull REF` and `pull --oci-layout PATH`: an artifact's files, shaped as oras pushes
// them (titled layers, a directory as one tar+gzip layer), written as oras pull writes them.
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { c as tarCreate } from 'tar'
import { push } from '../../src/transfer/push.js'
import { pullFiles } from '../../src/transfer/pull-files.js'
import { runCli, type CliRun } from '../helpers/action.js'
import { sha256, writeBlob, writeIndex, writeJsonBlob, type Desc } from '../helpers/layouts.js'
import { startProxy } from '../helpers/proxy.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'
import { makeTar, type Member } from '../helpers/tar-build.js'

const cli = (args: string[], cwd?: string): Promise<CliRun> => runCli(args, { cwd })

const TITLE = 'org.opencontainers.image.title'
const EMPTY = 'application/vnd.oci.empty.v1+json'

interface Layer {
  bytes: Buffer
  title?: string
  mediaType?: string
  annotations?: Record<string, string>
}

/** A layout holding one artifact manifest as oras push writes it, tagged v1. */
async function artifactLayout(layers: Layer[]): Promise<{ dir: string; manifest: Desc }> {
  const dir = await tmpDir('files-layout-')
  const config = await writeBlob(dir, EMPTY, Buffer.from('{}'))
  const descs: Desc[] = []
  for (const l of layers) {
    const d = await writeBlob(dir, l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar', l.bytes)
    const annotations = { ...(l.title !== undefined ? { [TITLE]: l.title } : {}), ...l.annotations }
    descs.push(Object.keys(annotations).length ? { ...d, annotations } : d)
  }
  const manifest = await writeJsonBlob(dir, 'application/vnd.oci.image.manifest.v1+json', {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: 'application/vnd.example.files',
    config,
    layers: descs
  })
  await writeIndex(dir, [
    { ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }
  ])
  return { dir, manifest }
}

/** A directory as oras packs it: a tgz whose members are named under the title. */
function dirLayer(title: string, tgz: Buffer, tarDigest = sha256(gunzipSync(tgz))): Layer {
  return {
    bytes: tgz,
    title,
    mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
    annotations: { 'io.deis.oras.content.unpack': 'true', 'io.deis.oras.content.digest': tarDigest }
  }
}

const hostileTgz = (members: Member[]): Buffer =>
  gzipSync(makeTar([{ path: 'docs/', type: 'Directory' }, ...members]))

/** Every path under `dir` (directories end in /), sorted; none when it does not exist. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries
    .map((e) => {
      const rel = path.relative(dir, path.join(e.parentPath, e.name))
      return e.isDirectory() ? `${rel}/` : rel
    })
    .sort()
}

const FILE_A = Buffer.from('hello artifact\n')
const FILE_B = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251))

let reg: TestRegistry
let good: { dir: string; manifest: Desc }
let ref: string

beforeAll(async () => {
  reg = await startRegistry()
  // The directory oras would pack for `oras push REF docs/`.
  const src = await tmpDir('files-src-')
  await mkdir(path.join(src, 'docs/nested'), { recursive: true })
  await writeFile(path.join(src, 'docs/readme.md'), '# docs\n')
  await writeFile(path.join(src, 'docs/nested/data.bin'), FILE_B.subarray(0, 5000))
  await symlink('readme.md', path.join(src, 'docs/link.md'))
  const tgz = path.join(src, 'docs.tgz')
  await tarCreate({ gzip: true, cwd: src, file: tgz, portable: true }, ['docs'])
  good = await artifactLayout([
    { bytes: FILE_A, title: 'hello.txt' },
    { bytes: FILE_B, title: 'sub/dir/b.bin' },
    dirLayer('docs', await readFile(tgz))
  ])
  ref = `${reg.host}/files/hello-artifact:v1`
  await push({ layout: `${good.dir}:v1`, reference: ref })
}, 60_000)

afterAll(async () => {
  await reg?.stop()
})

async function expectGoodFiles(out: string): Promise<void> {
  expect(await tree(out)).toEqual([
    'docs/',
    'docs/link.md',
    'docs/nested/',
    'docs/nested/data.bin',
    'docs/readme.md',
    'hello.txt',
    'sub/',
    'sub/dir/',
    'sub/dir/b.bin'
  ])
  expect(await readFile(path.join(out, 'hello.txt'))).toEqual(FILE_A)
  expect(await readFile(path.join(out, 'sub/dir/b.bin'))).toEqual(FILE_B)
  expect(await readFile(path.join(out, 'docs/readme.md'), 'utf8')).toBe('# docs\n')
  expect(await readFile(path.join(out, 'docs/nested/data.bin'))).toEqual(FILE_B.subarray(0, 5000))
  expect(await readlink(path.join(out, 'docs/link.md'))).toBe('readme.md')
}

it('pull REF -o DIR writes the files byte for byte, unpacks the directory, prints the digest', async () => {
  const out = path.join(await tmpDir('files-out-'), 'out')
  const run = await cli(['pull', ref, '-o', out])
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  await expectGoodFiles(out)
  expect(await remoteDigest(ref)).toBe(good.manifest.digest)
  expect(run.stdout).toBe(
    [
      'Downloaded hello.txt',
      'Downloaded sub/dir/b.bin',
      'Downloaded docs/',
      `Pulled [registry] ${ref}`,
      `Digest: ${good.manifest.digest}`,
      ''
    ].join('\n')
  )
  // Again over the files of the first pull: replaced, nothing left beside them.
  expect((await cli(['pull', ref, '-o', out])).code).toBe(0)
  await expectGoodFiles(out)
})

it('pull --oci-layout PATH:TAG writes the same files; the working directory by default; leftovers go', async () => {
  const out = await tmpDir('files-out-')
  // What a killed pull left (its pid gone) is removed; the tree below has nothing else.
  for (const name of ['hello.txt', 'docs', 'docs.tgz'])
    await writeFile(path.join(out, `${name}.999999-0123456789ab.partial`), 'left over')
  const run = await cli(['pull', '--oci-layout', `${good.dir}:v1`], out)
  expect(run).toMatchObject({ code: 0, stderr: '' })
  await expectGoodFiles(out)
  expect(run.stdout.split('\n').slice(-3)).toEqual([
    `Pulled [oci-layout] ${good.dir}:v1`,
    `Digest: ${good.manifest.digest}`,
    ''
  ])
})

it('--format json: the manifest digest and each file with its path and descriptor', async () => {
  const out = await tmpDir('files-out-')
  const run = await cli(['pull', ref, '-o', out, '--format', 'json'])
  expect(run.code).toBe(0)
  const json = JSON.parse(run.stdout) as Record<string, unknown>
  expect(json).toMatchObject({
    reference: `${reg.host}/files/hello-artifact@${good.manifest.digest}`,
    digest: good.manifest.digest,
    artifactType: 'application/vnd.example.files',
    files: [
      { path: path.join(out, 'hello.txt'), digest: sha256(FILE_A), size: FILE_A.length },
      { path: path.join(out, 'sub/dir/b.bin'), digest: sha256(FILE_B), unpacked: false },
      { path: path.join(out, 'docs'), title: 'docs', unpacked: true }
    ]
  })
})

it('an image without titled layers is an empty artifact: nothing written', async () => {
  const { dir, manifest } = await artifactLayout([{ bytes: Buffer.from('a layer, no title') }])
  const imageRef = `${reg.host}/files/plain:v1`
  await push({ layout: `${dir}:v1`, reference: imageRef })
  const out = path.join(await tmpDir('files-out-'), 'out')
  const run = await cli(['pull', imageRef, '-o', out])
  expect(run).toEqual({
    code: 0,
    stderr: '',
    stdout: `Downloaded empty artifact\nPulled [registry] ${imageRef}\nDigest: ${manifest.digest}\n`
  })
  expect(await tree(out)).toEqual([])
})

describe('refused before anything is written', () => {
  const refusedPull = async (layers: Layer[], prepare?: (out: string) => Promise<void>) => {
    const { dir } = await artifactLayout([{ bytes: FILE_A, title: 'first.txt' }, ...layers])
    const out = await tmpDir('files-out-')
    await prepare?.(out)
    const before = await tree(out)
    const run = await cli(['pull', '--oci-layout', dir, '-o', out])
    expect(run.code).toBe(1)
    expect(run.stdout).toBe('')
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
    expect(await tree(out)).toEqual(before)
    return run.stderr
  }

  it.each([
    ['../x', /"\.\.\/x": a "\.\." in its path/],
    ['a/../../x', /a "\.\." in its path/],
    ['/etc/x', /"\/etc\/x": an absolute path/],
    ['', /an empty name/],
    ['first.txt', /two layers carry this title/],
    ['first.txt/inner', /inside first.txt/]
  ])('title %j', async (title, message) => {
    expect(await refusedPull([{ bytes: Buffer.from('x'), title }])).toMatch(message)
  })

  it('a title that leads through a symbolic link out of the output directory', async () => {
    const outside = await tmpDir('files-outside-')
    const stderr = await refusedPull([{ bytes: Buffer.from('x'), title: 'evil/x' }], (out) =>
      symlink(outside, path.join(out, 'evil'))
    )
    expect(stderr).toMatch(/evil is a symbolic link that leads outside the output directory/)
    expect(await tree(outside)).toEqual([])
  })

  it.each([
    ['a ".." member', [{ path: 'docs/../../evil', body: Buffer.from('x') }], /points outside docs/],
    [
      'a member beside the directory',
      [{ path: 'other/x', body: Buffer.from('x') }],
      /points outside docs/
    ],
    ['an absolute member', [{ path: '/tmp/evil', body: Buffer.from('x') }], /points outside docs/],
    [
      'a link out',
      [{ path: 'docs/l', type: 'SymbolicLink', linkpath: '../../etc' }],
      /symbolic link to "\.\.\/\.\.\/etc"/
    ],
    [
      'a member through a link',
      [
        { path: 'docs/l', type: 'SymbolicLink', linkpath: '.' },
        { path: 'docs/l/x', body: Buffer.from('x') }
      ],
      /beyond a symbolic link/
    ],
    [
      'a hard link out',
      [{ path: 'docs/h', type: 'Link', linkpath: 'etc/passwd' }],
      /hard link to "etc\/passwd", outside docs/
    ],
    ['a FIFO', [{ path: 'docs/fifo', type: 'FIFO' }], /is a FIFO/]
  ] as [string, Member[], RegExp][])('a directory holding %s', async (_what, members, message) => {
    const out = await tmpDir('files-out-')
    const { dir } = await artifactLayout([
      { bytes: FILE_A, title: 'first.txt' },
      dirLayer('docs', hostileTgz([{ path: 'docs/ok.txt', body: Buffer.from('ok') }, ...members]))
    ])
    const run = await cli(['pull', '--oci-layout', dir, '-o', out])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(message)
    expect(await tree(out)).toEqual([])
  })

  it('a directory whose tar does not match io.deis.oras.content.digest', async () => {
    const out = await tmpDir('files-out-')
    const tgz = hostileTgz([{ path: 'docs/ok.txt', body: Buffer.from('ok') }])
    const { dir } = await artifactLayout([dirLayer('docs', tgz, sha256(Buffer.from('other')))])
    const run = await cli(['pull', '--oci-layout', dir, '-o', out])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/docs .*\(its tar\): content does not match its digest/)
    expect(await tree(out)).toEqual([])
  })
})

it('a blob corrupted on the way (a proxy flips a byte) leaves no file at all', async () => {
  const flipped = sha256(FILE_B).slice(7)
  const proxy = await startProxy(reg.host, async (req, res) => {
    if (req.method !== 'GET' || !req.url?.includes(`/blobs/sha256:${flipped}`)) return false
    const body = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(`http://${reg.host}${req.url}`, (up) => {
          const parts: Buffer[] = []
          up.on('data', (c: Buffer) => parts.push(c))
          up.on('end', () => resolve(Buffer.concat(parts)))
        })
        .on('error', reject)
    })
    body[body.length - 1] ^= 0xff
    res.writeHead(200, { 'content-length': body.length })
    res.end(body)
    return true
  })
  try {
    const out = await tmpDir('files-out-')
    const err = await pullFiles({
      reference: `${proxy.host}/files/hello-artifact:v1`,
      output: out,
      retries: 0
    }).catch((e: unknown) => e)
    expect(String(err)).toMatch(/b\.bin .*content does not match its digest/)
    expect(await tree(out)).toEqual([])
  } finally {
    await proxy.stop()
  }
})

it('an index whose images name the same file: refused with the platforms; --platform picks one', async () => {
  const arm = await artifactLayout([{ bytes: Buffer.from('arm64 build'), title: 'tool' }])
  const amd = await artifactLayout([{ bytes: Buffer.from('amd64 build'), title: 'tool' }])
  const dir = arm.dir
  // Both manifests in one layout, under an index tagged v1.
  const amdBytes = await readFile(path.join(amd.dir, 'blobs/sha256', amd.manifest.digest.slice(7)))
  for (const name of await readdir(path.join(amd.dir, 'blobs/sha256')))
    await writeFile(
      path.join(dir, 'blobs/sha256', name),
      await readFile(path.join(amd.dir, 'blobs/sha256', name))
    )
  expect(sha256(amdBytes)).toBe(amd.manifest.digest)
  const index = await writeJsonBlob(dir, 'application/vnd.oci.image.index.v1+json', {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { ...arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
      { ...amd.manifest, platform: { os: 'linux', architecture: 'amd64' } }
    ]
  })
  await writeIndex(dir, [{ ...index, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }])
  const out = await tmpDir('files-out-')
  const refused = await cli(['pull', '--oci-layout', `${dir}:v1`, '-o', out])
  expect(refused.code).toBe(1)
  expect(refused.stderr).toMatch(
    /is an index whose images name the same files.*--platform \(linux\/arm64, linux\/amd64\)/
  )
  expect(await tree(out)).toEqual([])
  const run = await cli([
    'pull',
    '--oci-layout',
    `${dir}:v1`,
    '-o',
    out,
    '--platform',
    'linux/amd64'
  ])
  expect(run.code).toBe(0)
  expect(run.stdout).toContain(`Digest: ${amd.manifest.digest}\n`)
  expect(await readFile(path.join(out, 'tool'), 'utf8')).toBe('amd64 build')
})

it('usage mistakes exit 2 before anything is pulled', async () => {
  const out = await tmpDir('files-out-')
  for (const [args, message] of [
    [['pull'], /pull needs a reference/],
    [['pull', ref, 'extra'], /one reference, not 2/],
    [['pull', ref, '--format', 'xml', '-o', out], /--format must be text or json/],
    [['pull', ref, '--bogus'], /--bogus/],
    [['pull', '--oci-layout', good.dir, '--username', 'u'], /for a registry, not --oci-layout/]
  ] as [string[], RegExp][]) {
    const run = await cli(args)
    expect({ args, code: run.code, stdout: run.stdout }).toEqual({ args, code: 2, stdout: '' })
    expect(run.stderr).toMatch(message)
  }
  expect(await tree(out)).toEqual([])
})

it('a registry that wants credentials: --username and --password, as for the other commands', async () => {
  const locked = await startRegistry({ users: { alice: 'secret-pw' } })
  try {
    const lockedRef = `${locked.host}/files/locked:v1`
    await push({
      layout: `${good.dir}:v1`,
      reference: lockedRef,
      username: 'alice',
      password: 'secret-pw'
    })
    const out = await tmpDir('files-out-')
    const anonymous = await cli(['pull', lockedRef, '-o', out], out)
    expect(anonymous.code).toBe(1)
    expect(anonymous.stderr).toMatch(/^error: .*\n$/)
    const run = await cli(['pull', lockedRef, '-o', out, '-u', 'alice', '--password', 'secret-pw'])
    expect(run).toMatchObject({ code: 0, stderr: expect.not.stringContaining('secret-pw') })
    expect(run.stdout).not.toContain('secret-pw')
    await expectGoodFiles(out)
  } finally {
    await locked.stop()
  }
})
