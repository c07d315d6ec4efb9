// The layouts other tools write, made at test set-up so a clone with nothing beside it tests them:
// buildah and umoci (Debian packages; scripts/setup.sh installs them), GNU tar re-tarring a layout
// with `./` names, a registry's storage written by skopeo, and the shapes no Debian tool writes
// (containerd's export, `docker save`, a regclient-style referrers repository) by the generator
// below. Each mirrors a layout of ../shared/fixtures (its README says what each exercises).
//
// Cached under .cache/corpus/made/ while this file and the tools' versions are unchanged. A tool
// that is missing or fails leaves its layouts out, and facts.json says why: the tests on them
// skip with that reason.
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)
export const MADE_DIR = path.resolve('.cache', 'corpus', 'made')
const TOOLS = ['buildah', 'umoci', 'skopeo', 'tar', 'gzip', 'docker-registry']

const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  empty: 'application/vnd.oci.empty.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip'
}
const REF = 'org.opencontainers.image.ref.name'

const run = async (cmd, args, opts = {}) =>
  (await execFileP(cmd, args, { maxBuffer: 1 << 26, ...opts })).stdout

async function version(tool) {
  try {
    const out = await run(tool, ['--version'])
    return out.trim().split('\n')[0]
  } catch {
    return 'missing'
  }
}

const sha = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** A layout directory being written: blobs by content, index.json last. */
class Layout {
  constructor(dir) {
    this.dir = dir
  }
  async init() {
    await mkdir(path.join(this.dir, 'blobs', 'sha256'), { recursive: true })
    await writeFile(path.join(this.dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
    return this
  }
  async blob(mediaType, content, extra = {}) {
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(JSON.stringify(content))
    const digest = sha(bytes)
    await writeFile(path.join(this.dir, 'blobs', 'sha256', digest.slice(7)), bytes)
    return { mediaType, digest, size: bytes.length, ...extra }
  }
  async index(manifests, extra = {}) {
    await writeFile(
      path.join(this.dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, ...extra, manifests })
    )
  }
}

const tagged = (desc, tag) => (tag ? { ...desc, annotations: { [REF]: tag } } : desc)

/** A one-file layer made by GNU tar and gzip -n (the same bytes every run). */
async function helloLayer(work, text) {
  const src = await mkdtemp(path.join(work, 'layer-'))
  await writeFile(path.join(src, 'hello'), text)
  const tarFile = path.join(src, '..', `${path.basename(src)}.tar`)
  await run('tar', [
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-cf',
    tarFile,
    '-C',
    src,
    'hello'
  ])
  const plain = await readFile(tarFile)
  const gz = Buffer.from(await run('gzip', ['-n', '-9', '-c', tarFile], { encoding: 'buffer' }))
  return { plain, gz }
}

/** Tars `names` of a layout directory with GNU tar, as a writer with fixed owners and times does. */
async function tarLayout(dir, out, names) {
  await run('tar', [
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '--sort=name',
    '-cf',
    out,
    '-C',
    dir,
    ...names
  ])
}

/** containerd's export of hello-world: a Docker manifest list of 11 platforms, one present. */
async function makeHelloExport(work, facts) {
  const dir = path.join(work, 'hello')
  const l = await new Layout(dir).init()
  const { gz, plain } = await helloLayer(work, 'Hello from the made corpus.\n')
  const layer = await l.blob(MT.dockerLayer, gz)
  const config = await l.blob(MT.dockerConfig, {
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/hello'] },
    rootfs: { type: 'layers', diff_ids: [sha(plain)] }
  })
  const amd64 = await l.blob(MT.dockerManifest, {
    schemaVersion: 2,
    mediaType: MT.dockerManifest,
    config,
    layers: [layer]
  })
  const absent = [
    ['arm', 'linux', 'v5'],
    ['arm', 'linux', 'v7'],
    ['arm64', 'linux', 'v8'],
    ['386', 'linux'],
    ['mips64le', 'linux'],
    ['ppc64le', 'linux'],
    ['riscv64', 'linux'],
    ['s390x', 'linux'],
    ['amd64', 'windows'],
    ['amd64', 'windows']
  ].map(([architecture, os, variant], i) => ({
    mediaType: MT.dockerManifest,
    digest: sha(`absent ${i}`),
    size: 525,
    platform: { architecture, os, ...(variant ? { variant } : {}) }
  }))
  const list = await l.blob(MT.dockerList, {
    schemaVersion: 2,
    mediaType: MT.dockerList,
    manifests: [{ ...amd64, platform: { architecture: 'amd64', os: 'linux' } }, ...absent]
  })
  // containerd writes no top-level mediaType, and a docker-style manifest.json beside.
  await l.index([
    {
      ...list,
      annotations: {
        'io.containerd.image.name': 'docker.io/library/hello-world:latest',
        [REF]: 'latest'
      }
    }
  ])
  await writeFile(
    path.join(dir, 'manifest.json'),
    JSON.stringify([
      {
        Config: `blobs/sha256/${config.digest.slice(7)}`,
        RepoTags: ['hello-world:latest'],
        Layers: [`blobs/sha256/${layer.digest.slice(7)}`]
      }
    ])
  )
  facts.helloAmd64 = amd64.digest
  return dir
}

/** `docker save` of Docker 25 by image ID: blobs and manifest.json, but `"manifests": null`. */
async function makeDockerSave(work, out) {
  const dir = path.join(work, 'docker-save')
  const l = await new Layout(dir).init()
  const { plain } = await helloLayer(work, 'saved\n')
  const layer = await l.blob(MT.layer, plain)
  const config = await l.blob(MT.config, {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [layer.digest] }
  })
  await l.blob(MT.manifest, { schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] })
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: null })
  )
  await writeFile(
    path.join(dir, 'manifest.json'),
    JSON.stringify([
      {
        Config: `blobs/sha256/${config.digest.slice(7)}`,
        RepoTags: null,
        Layers: [`blobs/sha256/${layer.digest.slice(7)}`]
      }
    ])
  )
  await tarLayout(dir, out, ['blobs', 'index.json', 'manifest.json', 'oci-layout'])
}

/**
 * A regclient-style repository directory: multi-platform indexes, a Docker manifest, artifacts
 * with a subject found through `sha256-<hex>` fallback tags, untagged entries, two names for one
 * digest, and `loop`, an index whose referrer graph leads back to itself.
 */
async function makeTestRepo(dir, facts) {
  const l = await new Layout(dir).init()
  const empty = await l.blob(MT.empty, Buffer.from('{}'))
  const image = async (arch, note) => {
    const layer = await l.blob(MT.layer, Buffer.from(`layer of ${arch} ${note}\n`))
    const config = await l.blob(MT.config, {
      architecture: arch,
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [layer.digest] }
    })
    const m = await l.blob(MT.manifest, {
      schemaVersion: 2,
      mediaType: MT.manifest,
      config,
      layers: [layer]
    })
    return { ...m, platform: { architecture: arch, os: 'linux' } }
  }
  const index = (manifests, extra = {}) =>
    l.blob(MT.index, { schemaVersion: 2, mediaType: MT.index, manifests, ...extra })
  const artifact = async (type, text, subject) =>
    l.blob(
      MT.manifest,
      {
        schemaVersion: 2,
        mediaType: MT.manifest,
        artifactType: type,
        config: empty,
        layers: [await l.blob(type, Buffer.from(text))],
        ...(subject
          ? {
              subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size }
            }
          : {})
      },
      { artifactType: type }
    )
  const fallback = (subject, referrers) =>
    index(referrers).then((d) => tagged(d, `sha256-${subject.digest.slice(7)}`))
  const strip = ({ artifactType: _a, platform: _p, ...d }) => d

  const entries = []
  const v1 = await index([await image('amd64', 'v1'), await image('arm64', 'v1')])
  const v2 = await index([await image('amd64', 'v2'), await image('arm64', 'v2')])
  const v3 = await index([
    await image('amd64', 'v3'),
    await image('arm64', 'v3'),
    await image('s390x', 'v3')
  ])
  entries.push(tagged(v1, 'v1'), tagged(v2, 'v2'), tagged(v3, 'v3'))
  for (const b of ['b1', 'b2', 'b3'])
    entries.push(tagged(await index([await image('amd64', b)]), b))

  const dockerLayer = await l.blob(MT.dockerLayer, Buffer.from('docker layer\n'))
  const dockerConfig = await l.blob(MT.dockerConfig, { architecture: 'amd64', os: 'linux' })
  const aDocker = await l.blob(MT.dockerManifest, {
    schemaVersion: 2,
    mediaType: MT.dockerManifest,
    config: dockerConfig,
    layers: [dockerLayer]
  })
  const aDockerOci = await l.blob(MT.manifest, {
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: { ...dockerConfig, mediaType: MT.config },
    layers: [{ ...dockerLayer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }]
  })
  entries.push(tagged(aDocker, 'a-docker'), tagged(aDockerOci, 'a-docker-oci'))

  // v2's referrers: an SBOM and a signature, listed by the fallback tag sha256-<v2>.
  const a1 = await artifact('application/example.sbom', 'sbom\n', v2)
  const a2 = await artifact('application/example.signature', 'sig\n', v2)
  entries.push(tagged(strip(a1), 'a1'), tagged(strip(a2), 'a2'), await fallback(v2, [a1, a2]))
  const ai = await index([strip(await artifact('application/example.ai', 'ai\n'))], {
    artifactType: 'application/example.ai'
  })
  entries.push(tagged(ai, 'ai'))

  // loop → child → (child's referrers) → loop.
  const child = await artifact('application/example.child', 'child\n')
  const loop = await index([strip(child)], {
    artifactType: 'application/example.loop',
    subject: strip(child)
  })
  const childReferrers = await fallback(child, [
    { ...loop, artifactType: 'application/example.loop' }
  ])
  entries.push(tagged(strip(child), 'child'), tagged(loop, 'loop'), childReferrers)

  // A fallback tag that names a manifest rather than an index, and two names for one digest.
  const mirror = strip(await artifact('application/example.mirror', 'mirror\n'))
  entries.push(tagged(mirror, 'mirror'), tagged(mirror, `sha256-${mirror.digest.slice(7)}`))
  entries.push(tagged(v3, `sha256-${v1.digest.slice(7)}.${v3.digest.slice(7, 23)}.meta`))
  entries.push(await image('amd64', 'untagged 1'), await image('arm64', 'untagged 2'))
  await l.index(entries.map(({ platform: _p, ...d }) => d))
  Object.assign(facts, {
    testrepoV2: v2.digest,
    loop: loop.digest,
    loopChild: child.digest,
    loopChildReferrers: childReferrers.digest
  })
}

async function makeWithBuildah(work, layouts, facts) {
  const store = path.join(work, 'buildah')
  const b = (...args) =>
    run('buildah', [
      '--root',
      `${store}/root`,
      '--runroot',
      `${store}/run`,
      '--storage-driver',
      'vfs',
      ...args
    ])
  const file = path.join(work, 'hello.txt')
  await writeFile(file, 'hello from buildah\n')
  const image = async (arch) => {
    const c = (await b('from', 'scratch')).trim()
    await b('copy', c, file, '/hello.txt')
    await b('config', '--arch', arch, '--os', 'linux', '--cmd', '/hello.txt', c)
    return c
  }
  const single = path.join(layouts, 'buildah-oci-archive.tar')
  await b('commit', '--format', 'oci', await image('amd64'), `oci-archive:${single}:v1`)
  for (const arch of ['amd64', 'arm64'])
    await b('commit', '--format', 'oci', await image(arch), `img-${arch}`)
  await b('manifest', 'create', 'list')
  for (const arch of ['amd64', 'arm64'])
    await b('manifest', 'add', 'list', `containers-storage:localhost/img-${arch}`)
  const multi = path.join(layouts, 'buildah-multiarch-index.tar')
  await b('manifest', 'push', '--all', 'list', `oci-archive:${multi}:v1`)
  facts.buildah = await topDigest(single)
  facts.buildahMulti = await topDigest(multi)
}

async function topDigest(tarFile) {
  const index = JSON.parse(await run('tar', ['-xOf', tarFile, 'index.json']))
  return index.manifests[0].digest
}

async function makeWithUmoci(layouts, work, facts) {
  const dir = path.join(layouts, 'umoci-two-tags')
  const file = path.join(work, 'umoci.txt')
  await writeFile(file, 'hello from umoci\n')
  await run('umoci', ['init', '--layout', dir])
  await run('umoci', ['new', '--image', `${dir}:v1`])
  await run('umoci', ['insert', '--rootless', '--image', `${dir}:v1`, file, '/hello.txt'])
  await run('umoci', [
    'config',
    '--image',
    `${dir}:v1`,
    '--tag',
    'v2',
    '--config.cmd',
    '/hello.txt'
  ])
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8'))
  for (const m of index.manifests)
    facts[m.annotations[REF] === 'v1' ? 'umociV1' : 'umociV2'] = m.digest
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })

/** A distribution registry's storage after skopeo pushed buildah's images to command/images. */
async function makeStorageDump(work, layouts, out) {
  const root = path.join(work, 'registry')
  await mkdir(root)
  const port = await freePort()
  const config = path.join(work, 'registry.yml')
  await writeFile(
    config,
    JSON.stringify({
      version: 0.1,
      log: { level: 'error' },
      storage: { filesystem: { rootdirectory: root } },
      http: { addr: `127.0.0.1:${port}` }
    })
  )
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' })
  try {
    for (let i = 0; ; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/v2/`).then(
        (r) => r.ok,
        () => false
      )
      if (up) break
      if (i > 100) throw new Error('docker-registry did not start')
      await new Promise((r) => setTimeout(r, 50))
    }
    const copy = (src, tag) =>
      run('skopeo', [
        '--insecure-policy',
        'copy',
        '--dest-tls-verify=false',
        '--preserve-digests',
        '--all',
        src,
        `docker://127.0.0.1:${port}/command/images:${tag}`
      ])
    await copy(`oci-archive:${path.join(layouts, 'buildah-oci-archive.tar')}:v1`, 'foobar')
    await copy(`oci-archive:${path.join(layouts, 'buildah-multiarch-index.tar')}:v1`, 'multi')
  } finally {
    child.kill()
  }
  await mkdir(path.dirname(out), { recursive: true })
  await run('tar', ['-czf', out, '-C', root, 'docker'])
}

/** Makes (or reuses) the tool-made corpus; returns what facts.json holds. */
export async function makeToolCorpus() {
  const script = await readFile(fileURLToPath(import.meta.url))
  const versions = await Promise.all(TOOLS.map(version))
  const key = sha(Buffer.concat([script, Buffer.from(versions.join('\n'))]))
  const factsFile = path.join(MADE_DIR, 'facts.json')
  if (existsSync(factsFile)) {
    const old = JSON.parse(await readFile(factsFile, 'utf8'))
    if (old.key === key) return old
  }
  const next = `${MADE_DIR}.${process.pid}.partial`
  await rm(next, { recursive: true, force: true })
  const layouts = path.join(next, 'layouts')
  await mkdir(layouts, { recursive: true })
  const work = await mkdtemp(path.join(os.tmpdir(), 'corpus-tools-'))
  const facts = {
    key,
    versions: Object.fromEntries(TOOLS.map((t, i) => [t, versions[i]])),
    missing: {}
  }
  // Each step needs its tools; a failure leaves its layouts out, with the reason.
  const step = async (names, tools, fn) => {
    const absent = tools.filter((t) => facts.versions[t] === 'missing')
    if (absent.length) {
      for (const n of names)
        facts.missing[n] = `${absent.join(' and ')} not installed (scripts/setup.sh installs it)`
      return
    }
    try {
      await fn()
    } catch (err) {
      const why = String(err?.stderr || err?.message || err)
        .trim()
        .split('\n')
        .pop()
      for (const n of names) facts.missing[n] = `${tools.join('/')} failed here: ${why}`
    }
  }
  try {
    await step(['buildah-oci-archive.tar', 'buildah-multiarch-index.tar'], ['buildah'], () =>
      makeWithBuildah(work, layouts, facts)
    )
    await step(['umoci-two-tags'], ['umoci'], () => makeWithUmoci(layouts, work, facts))
    await step(
      ['containerd-export-hello-world.tar', 'gnu-tar-dot-prefixed-hello-world.tar'],
      ['tar', 'gzip'],
      async () => {
        const hello = await makeHelloExport(work, facts)
        await tarLayout(hello, path.join(layouts, 'containerd-export-hello-world.tar'), [
          'blobs',
          'index.json',
          'manifest.json',
          'oci-layout'
        ])
        // GNU tar's own shape: a `./` root entry, `./` on every name, the old GNU magic, uid 1000.
        await run('tar', [
          '--format=oldgnu',
          '--owner=1000',
          '--group=1000',
          '--numeric-owner',
          '-cf',
          path.join(layouts, 'gnu-tar-dot-prefixed-hello-world.tar'),
          '-C',
          hello,
          '.'
        ])
      }
    )
    await step(['docker-save-v25-hello-world.tar'], ['tar', 'gzip'], () =>
      makeDockerSave(work, path.join(layouts, 'docker-save-v25-hello-world.tar'))
    )
    await step(['regclient-testrepo'], [], () =>
      makeTestRepo(path.join(layouts, 'regclient-testrepo'), facts)
    )
    await step(
      ['registry-storage/images.tar.gz'],
      ['docker-registry', 'skopeo', 'buildah'],
      async () => {
        if (facts.missing['buildah-oci-archive.tar'])
          throw new Error(facts.missing['buildah-oci-archive.tar'])
        await makeStorageDump(work, layouts, path.join(next, 'registry-storage', 'images.tar.gz'))
        // Pushed with --preserve-digests: the tag holds buildah's own manifest.
        facts.dumpFoobar = facts.buildah
      }
    )
    await writeFile(path.join(next, 'facts.json'), JSON.stringify(facts, null, 2) + '\n')
    await rm(MADE_DIR, { recursive: true, force: true })
    await rename(next, MADE_DIR)
  } finally {
    await rm(work, { recursive: true, force: true })
    await rm(next, { recursive: true, force: true })
  }
  return facts
}
