// `oci-layout push REF FILE...` and `attach`, run as a user runs them, against the real registry:
// the artifact is oras's shape, its blobs are the files' bytes, skopeo reads it, the same files
// give the same digest, a missing file pushes nothing, and an attached artifact is findable.
import { execFile } from 'node:child_process'
import { chmod, mkdir, readFile, utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { CLI_BUNDLE } from '../helpers/action.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, skopeo, tmpDir } from '../helpers/skopeo.js'

interface CliRun {
  code: number
  stdout: string
  stderr: string
}

function cli(args: string[], cwd: string): Promise<CliRun> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'OCI_PASSWORD')
  )
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_BUNDLE, ...args],
      { env, cwd, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  })
}

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const INDEX = 'application/vnd.oci.image.index.v1+json'

/** Files to push: two files and a directory with a subdirectory, times and modes as given. */
async function workdir(stamp: number): Promise<string> {
  const dir = await tmpDir('push-files-')
  await mkdir(path.join(dir, 'site', 'css'), { recursive: true })
  await writeFile(path.join(dir, 'notes.txt'), 'some notes\n')
  await writeFile(path.join(dir, 'data.json'), '{"a":1}\n')
  await writeFile(path.join(dir, 'site', 'index.html'), '<p>hi</p>\n')
  await writeFile(path.join(dir, 'site', 'css', 'a.css'), 'p{}\n')
  await chmod(path.join(dir, 'site', 'index.html'), stamp % 2 ? 0o664 : 0o644)
  for (const p of ['site/css/a.css', 'site/index.html', 'site/css', 'site', 'notes.txt'])
    await utimes(path.join(dir, p), stamp, stamp)
  return dir
}

describe('push REF FILE... and attach (node cli.js)', () => {
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry()
  })
  afterAll(async () => {
    await reg.stop()
  })

  const get = async (p: string, accept?: string): Promise<Response> =>
    fetch(`http://${reg.host}/v2/${p}`, { headers: accept ? { Accept: accept } : {} })
  const manifest = async (repo: string, ref: string): Promise<Record<string, unknown>> => {
    const res = await get(`${repo}/manifests/${ref}`, `${MANIFEST}, ${INDEX}`)
    expect(res.status).toBe(200)
    return (await res.json()) as Record<string, unknown>
  }

  it("pushes files and a directory as oras's artifact, each blob the file's bytes", async () => {
    const cwd = await workdir(1_000_000)
    const ref = `${reg.host}/files/app:v1`
    const run = await cli(
      ['push', ref, 'notes.txt', 'data.json:application/json', 'site', '--annotation', 'k=v'],
      cwd
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split('\n')
    const digest = lines.at(-1)?.replace(/^Digest: /, '') ?? ''
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(lines.slice(-3, -1)).toEqual([
      `Pushed [registry] ${ref}`,
      'ArtifactType: application/vnd.unknown.artifact.v1'
    ])
    expect(lines.slice(0, 3).map((l) => l.replace(/ [0-9a-f]{12} /, ' '))).toEqual([
      'Uploaded notes.txt',
      'Uploaded data.json',
      'Uploaded site'
    ])

    const m = await manifest('files/app', 'v1')
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: MANIFEST,
      artifactType: 'application/vnd.unknown.artifact.v1',
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
        size: 2
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: expect.any(String),
          size: 11,
          annotations: { 'org.opencontainers.image.title': 'notes.txt' }
        },
        {
          mediaType: 'application/json',
          digest: expect.any(String),
          size: 8,
          annotations: { 'org.opencontainers.image.title': 'data.json' }
        },
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: expect.any(String),
          size: expect.any(Number),
          annotations: {
            'io.deis.oras.content.digest': expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
            'io.deis.oras.content.unpack': 'true',
            'org.opencontainers.image.title': 'site'
          }
        }
      ],
      annotations: { k: 'v' }
    })
    const layers = m.layers as { digest: string; size: number }[]
    const blob = async (d: string): Promise<Buffer> =>
      Buffer.from(await (await get(`files/app/blobs/${d}`)).arrayBuffer())
    expect(await blob(layers[0].digest)).toEqual(await readFile(path.join(cwd, 'notes.txt')))
    expect(await blob(layers[1].digest)).toEqual(await readFile(path.join(cwd, 'data.json')))
    expect((await blob(layers[2].digest)).length).toBe(layers[2].size)
    expect((await blob(digestOfEmpty)).toString()).toBe('{}')

    // skopeo reads the same bytes, and copies the artifact without changing its digest.
    expect(await remoteDigest(ref)).toBe(digest)
    await skopeo([
      'copy',
      '--preserve-digests',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${ref}`,
      `docker://${reg.host}/files/copy:v1`
    ])
    expect(await remoteDigest(`${reg.host}/files/copy:v1`)).toBe(digest)

    // The directory comes back out with its files (as `oras pull` unpacks it).
    const out = await tmpDir('push-files-out-')
    await writeFile(path.join(out, 'site.tgz'), await blob(layers[2].digest))
    await new Promise<void>((resolve, reject) =>
      execFile('tar', ['xzf', 'site.tgz'], { cwd: out }, (err) => (err ? reject(err) : resolve()))
    )
    expect(await readFile(path.join(out, 'site', 'css', 'a.css'), 'utf8')).toBe('p{}\n')

    // The same files elsewhere, touched at another time, give the same digest; the registry has it all.
    const again = await cli(
      [
        'push',
        `${reg.host}/files/app:v2`,
        'notes.txt',
        'data.json:application/json',
        'site',
        '-a',
        'k=v'
      ],
      await workdir(2_000_001)
    )
    expect(again.code).toBe(0)
    expect(again.stdout.trim().split('\n').at(-1)).toBe(`Digest: ${digest}`)
    expect(again.stdout).toContain('Exists  ')
  })

  it('a missing file fails with one line naming it, and nothing is pushed', async () => {
    const cwd = await workdir(1_000_000)
    const run = await cli(['push', `${reg.host}/files/missing:v1`, 'notes.txt', 'nope.txt'], cwd)
    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: file nope.txt does not exist (check the path: it is read from the working directory)\n'
    })
    expect((await get('files/missing/manifests/v1', MANIFEST)).status).toBe(404)
    expect((await get('files/missing/tags/list')).status).toBe(404)
    const abs = await cli(
      ['push', `${reg.host}/files/missing:v1`, path.join(cwd, 'notes.txt')],
      cwd
    )
    expect(abs.code).toBe(1)
    expect(abs.stderr).toMatch(/^error: file \/.* is an absolute path.*\(give it relative/)
  })

  it('attach makes a referrer of the image, findable through the fallback tag', async () => {
    const cwd = await workdir(1_000_000)
    const pushed = await cli(['push', `${reg.host}/files/subject:v1`, 'notes.txt'], cwd)
    const subject =
      pushed.stdout
        .trim()
        .split('\n')
        .at(-1)
        ?.replace(/^Digest: /, '') ?? ''
    const run = await cli(
      [
        'attach',
        `${reg.host}/files/subject:v1`,
        'data.json',
        '--artifact-type',
        'application/vnd.example.sbom',
        '--format',
        'json'
      ],
      cwd
    )
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const out = JSON.parse(run.stdout) as Record<string, unknown>
    expect(out).toMatchObject({
      reference: `${reg.host}/files/subject@${String(out.digest)}`,
      mediaType: MANIFEST,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      artifactType: 'application/vnd.example.sbom',
      subject: { mediaType: MANIFEST, digest: subject }
    })
    const m = await manifest('files/subject', String(out.digest))
    expect(m.subject).toEqual({ mediaType: MANIFEST, digest: subject, size: expect.any(Number) })
    expect(m.artifactType).toBe('application/vnd.example.sbom')

    // distribution 2.8 has no referrers API: the fallback tag lists the artifact.
    const fallback = await manifest('files/subject', subject.replace(':', '-'))
    expect(fallback.manifests).toEqual([
      {
        mediaType: MANIFEST,
        digest: out.digest,
        size: out.size,
        artifactType: 'application/vnd.example.sbom'
      }
    ])
  })

  it('usage mistakes exit 2 with one line: no type to attach, an annotation without =', async () => {
    const cwd = await workdir(1_000_000)
    const ref = `${reg.host}/files/usage:v1`
    expect(await cli(['attach', ref, 'notes.txt'], cwd)).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'error: attach SUBJECT FILE[:MEDIATYPE]...: --artifact-type is required (see oci-layout --help)\n'
    })
    expect(await cli(['push', ref, 'notes.txt', '--annotation', 'novalue'], cwd)).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: --annotation novalue is not KEY=VALUE (see oci-layout --help)\n'
    })
    expect((await get('files/usage/tags/list')).status).toBe(404)
  })

  it('--format json prints the digest, media type and reference', async () => {
    const cwd = await workdir(1_000_000)
    const run = await cli(
      ['push', `${reg.host}/files/json:v1`, 'notes.txt', '--format', 'json'],
      cwd
    )
    expect(run.code).toBe(0)
    const out = JSON.parse(run.stdout) as Record<string, unknown>
    expect(out).toEqual({
      reference: `${reg.host}/files/json@${String(out.digest)}`,
      referenceAsTags: [`${reg.host}/files/json:v1`],
      mediaType: MANIFEST,
      digest: await remoteDigest(`${reg.host}/files/json:v1`),
      size: expect.any(Number),
      artifactType: 'application/vnd.unknown.artifact.v1'
    })
  })
})

const digestOfEmpty = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
