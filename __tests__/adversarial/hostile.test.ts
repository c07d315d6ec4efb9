// Hostile and broken layouts (issue 5). Each must end in one clear `::error::` line naming the
// file or digest and the problem, exit code 1, no stack trace, no hang, nothing written outside
// the work area and nothing pushed. Most cases run through the bundled action (`npm run build`
// first), in a work directory beside a canary directory that a `../` or absolute member would
// target; a few run through the library to check the error types, or need no registry at all.
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import {
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  truncate,
  writeFile
} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { describeError, LayoutError, OciError } from '../../src/errors/errors.js'
import { ACTION_BUNDLE, runAction as runBundled, type ActionRun } from '../helpers/action.js'
import { MemoryStore } from '../helpers/memory-store.js'
import { copyGraph } from '../../src/copy/copy.js'
import { loadGraph, MAX_GRAPH_DEPTH } from '../../src/copy/graph.js'
import { LayoutSource } from '../../src/layout/layout-source.js'
import { MediaType } from '../../src/oci/media-types.js'
import type { Descriptor } from '../../src/oci/types.js'
import { push } from '../../src/transfer/push.js'
import {
  makeImageLayout,
  sha256,
  writeBlob,
  writeIndex,
  writeJsonBlob,
  type Desc
} from '../helpers/layouts.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { CORPORA, itWith, layoutIn } from '../helpers/corpus.js'
import { makeTar, type Member } from '../helpers/tar-build.js'
import { tmpDir } from '../helpers/skopeo.js'

const execFileP = promisify(execFile)

/** Whether this process may make device nodes (root, outside a restricted container). */
const MKNOD_ALLOWED = ((): boolean => {
  const probe = mkdtempSync(path.join(os.tmpdir(), 'mknod-'))
  try {
    return spawnSync('mknod', [path.join(probe, 'null'), 'c', '1', '3']).status === 0
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
})()

const blobName = (digest: string): string => `blobs/sha256/${digest.slice(7)}`

/** A small valid image layout, and its files as tar members (oci-layout, index.json, blobs). */
interface Base {
  dir: string
  manifest: Desc
  config: Desc
  layer: Desc
  members: Member[]
}

async function baseLayout(): Promise<Base> {
  const { dir, manifest } = await makeImageLayout({ tag: 'v1' })
  const m = JSON.parse(await readFile(path.join(dir, blobName(manifest.digest)), 'utf8')) as {
    config: Desc
    layers: Desc[]
  }
  const members: Member[] = [
    { path: 'oci-layout', body: await readFile(path.join(dir, 'oci-layout')) },
    { path: 'index.json', body: await readFile(path.join(dir, 'index.json')) }
  ]
  for (const name of (await readdir(path.join(dir, 'blobs/sha256'))).sort()) {
    const rel = `blobs/sha256/${name}`
    members.push({ path: rel, body: await readFile(path.join(dir, rel)) })
  }
  return { dir, manifest, config: m.config, layer: m.layers[0], members }
}

/** The base members with one replaced (by name) and others added. */
function withMembers(base: Base, replace: Record<string, Member | null>, add: Member[] = []) {
  const out: Member[] = []
  for (const m of base.members) {
    if (!(m.path in replace)) out.push(m)
    else if (replace[m.path]) out.push(replace[m.path] as Member)
  }
  return [...out, ...add]
}

// ---------------------------------------------------------------------------------------------
// Running the action in a work area, watching everything around it.

interface Area {
  /** Holds work/, canary/ and nothing else. */
  root: string
  /** The step's working directory; RUNNER_TEMP and TMPDIR are work/temp. */
  work: string
  canary: string
}

async function makeArea(): Promise<Area> {
  const root = await tmpDir('hostile-')
  const work = path.join(root, 'work')
  const canary = path.join(root, 'canary')
  await mkdir(path.join(work, 'temp'), { recursive: true })
  await mkdir(canary)
  await writeFile(path.join(canary, 'secret'), 'canary secret: must never be read or replaced\n')
  return { root, work, canary }
}

/** Every path under `dir` with its type, size, mode and mtime (links not followed). */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const r = path.join(rel, name)
      const st = await lstat(path.join(dir, r))
      const link = st.isSymbolicLink() ? ` -> ${await readlink(path.join(dir, r))}` : ''
      // A directory's size and mtime change when a temporary entry comes and goes: list those only.
      const meta = st.isDirectory() ? 'dir' : `${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`
      out.push(`${r} ${meta}${link}`)
      if (st.isDirectory()) await walk(r)
    }
  }
  await walk('')
  return out
}

/** The action on a layout of the area, its temporary files kept inside the area. */
function runAction(area: Area, inputs: Record<string, string>): Promise<ActionRun> {
  const temp = path.join(area.work, 'temp')
  const env = { RUNNER_TEMP: temp, TMPDIR: temp, GITHUB_OUTPUT: '' }
  return runBundled(inputs, env, { cwd: area.work, timeoutMs: 60_000 })
}

// ---------------------------------------------------------------------------------------------

let reg: TestRegistry
let base: Base
let counter = 0

beforeAll(async () => {
  reg = await startRegistry()
  base = await baseLayout()
})
afterAll(async () => {
  await reg.stop()
})

/** Whether the registry holds anything at all for a repository (an upload started counts). */
const repoTouched = (repo: string): boolean =>
  existsSync(path.join(reg.root, 'docker/registry/v2/repositories', repo))

async function headStatus(repo: string, kind: 'manifests' | 'blobs', ref: string): Promise<number> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/${kind}/${ref}`, {
    method: 'HEAD',
    headers: { Accept: [MediaType.OciIndex, MediaType.OciManifest].join(', ') }
  })
  return res.status
}

/**
 * Puts a hostile layout in a fresh work area, runs the action on it and checks the contract:
 * exit 1, one `::error::` line matching `error`, no stack trace, nothing changed outside the
 * work area's own files, nothing pushed. With `via: 'library'` it calls push() instead (much
 * faster than starting the bundle) and checks that the error is a typed OciError whose one line
 * matches: that is what the action prints.
 */
async function expectRefused(
  build: (area: Area) => Promise<string>,
  error: RegExp,
  opts: { somethingPushed?: boolean; via?: 'action' | 'library' } = {}
): Promise<void> {
  const area = await makeArea()
  const layout = await build(area)
  const before = await snapshot(area.root)
  const repo = `hostile/case${++counter}`
  if (opts.via === 'library') {
    const err = await push({
      layout: path.join(area.work, layout),
      registry: reg.host,
      reference: `${repo}:v1`,
      tempDir: path.join(area.work, 'temp')
    }).then(
      () => new Error('pushed'),
      (e: unknown) => e
    )
    expect(err).toBeInstanceOf(OciError)
    const line = describeError(err)
    expect(line).not.toContain('\n')
    expect(line).toMatch(error)
  } else {
    const run = await runAction(area, { layout, registry: reg.host, reference: `${repo}:v1` })
    const printed = run.stdout + run.stderr
    expect({ code: run.code, errors: run.errors }).toEqual({
      code: 1,
      errors: [expect.stringMatching(error)]
    })
    expect(printed).not.toMatch(/\n\s+at /)
    expect(printed).not.toMatch(/\b(TypeError|RangeError|SyntaxError|ReferenceError)\b/)
  }
  expect(await snapshot(area.root)).toEqual(before)
  if (opts.somethingPushed) {
    expect(await headStatus(repo, 'manifests', 'v1')).toBe(404)
  } else {
    expect(repoTouched(repo)).toBe(false)
  }
  await rm(area.root, { recursive: true, force: true })
}

async function writeTar(area: Area, members: Member[], name = 'layout.tar'): Promise<string> {
  await writeFile(path.join(area.work, name), makeTar(members))
  return name
}

describe('hostile tar members', () => {
  beforeAll(() => {
    if (!existsSync(ACTION_BUNDLE))
      throw new Error(`${ACTION_BUNDLE} is missing: run the tests with jest's global set-up`)
  })

  it('a member named ../… (made by GNU tar) is refused, nothing is written beside the work area', async () => {
    await expectRefused(async (area) => {
      const src = path.join(area.work, 'src')
      await execFileP('cp', ['-r', base.dir, src])
      await writeFile(path.join(src, 'evil'), 'written by a hostile tar\n')
      await execFileP('tar', [
        '-C',
        src,
        '--transform',
        's,^evil$,../canary/evil,',
        '-P',
        '-cf',
        path.join(area.work, 'layout.tar'),
        'oci-layout',
        'index.json',
        'blobs',
        'evil'
      ])
      await rm(src, { recursive: true })
      return 'layout.tar'
    }, /::error title=Push failed::layout\.tar: member "\.\.\/canary\/evil" points outside the archive/)
  })

  it('a ../ in the middle of a name is refused too', async () => {
    await expectRefused(
      (area) =>
        writeTar(
          area,
          withMembers(base, {}, [{ path: 'blobs/../../canary/evil', body: Buffer.from('x') }])
        ),
      /member "blobs\/\.\.\/\.\.\/canary\/evil" points outside the archive/
    )
  })

  it('an absolute member name (GNU tar -P) is refused', async () => {
    await expectRefused(async (area) => {
      const file = path.join(area.work, 'layout.tar')
      await execFileP('tar', ['-C', base.dir, '-cf', file, 'oci-layout', 'index.json', 'blobs'])
      await execFileP('tar', ['-P', '-rf', file, path.join(area.canary, 'secret')])
      return 'layout.tar'
    }, /member "\/.*\/canary\/secret" points outside the archive \(an absolute name\)/)
  })

  it('a blob that is a symlink to an absolute path outside the layout', async () => {
    const name = blobName(base.layer.digest)
    await expectRefused(
      (area) =>
        writeTar(
          area,
          withMembers(base, {
            [name]: {
              path: name,
              type: 'SymbolicLink',
              linkpath: path.join(area.canary, 'secret')
            }
          })
        ),
      new RegExp(`${name} is a symbolic link to ".*canary/secret" \\(outside the layout\\)`)
    )
  })

  it('a blob that is a relative symlink climbing out of the layout', async () => {
    const name = blobName(base.layer.digest)
    await expectRefused(
      (area) =>
        writeTar(
          area,
          withMembers(base, {
            [name]: { path: name, type: 'SymbolicLink', linkpath: '../../../canary/secret' }
          })
        ),
      /is a symbolic link to "\.\.\/\.\.\/\.\.\/canary\/secret" \(outside the layout\)/
    )
  })

  it('a symlink out of the layout is refused even where nothing refers to it', async () => {
    await expectRefused(
      (area) =>
        writeTar(
          area,
          withMembers(base, {}, [{ path: 'extra', type: 'SymbolicLink', linkpath: '/etc/passwd' }])
        ),
      /layout\.tar: extra is a symbolic link to "\/etc\/passwd" \(outside the layout\)/
    )
  })

  it('hard links out of the layout: to ../ and to an absolute path', async () => {
    const name = blobName(base.layer.digest)
    for (const linkpath of ['../canary/secret', '/etc/passwd']) {
      await expectRefused(
        (area) =>
          writeTar(area, withMembers(base, { [name]: { path: name, type: 'Link', linkpath } })),
        new RegExp(`${name} is a hard link to "${linkpath.replace(/[./]/g, '\\$&')}"`)
      )
    }
  })

  it.each([
    ['CharacterDevice', 'character device'],
    ['BlockDevice', 'block device'],
    ['FIFO', 'FIFO']
  ] as const)('a %s member where a blob should be', async (type, words) => {
    const name = blobName(base.config.digest)
    await expectRefused(
      (area) => writeTar(area, withMembers(base, { [name]: { path: name, type } })),
      new RegExp(`${name} is a ${words}, not a regular file`)
    )
  })

  it('a device member is refused even where nothing refers to it', async () => {
    await expectRefused(
      (area) =>
        writeTar(area, withMembers(base, {}, [{ path: 'dev/null', type: 'CharacterDevice' }])),
      /dev\/null is a character device, not a regular file/
    )
  })

  it('symlinked and hard-linked blobs that stay inside the layout push fine (rules_oci style)', async () => {
    const layer = blobName(base.layer.digest)
    const config = blobName(base.config.digest)
    const layerBody = base.members.find((m) => m.path === layer)?.body as Buffer
    const configBody = base.members.find((m) => m.path === config)?.body as Buffer
    const area = await makeArea()
    await writeTar(
      area,
      withMembers(
        base,
        {
          [layer]: { path: layer, type: 'SymbolicLink', linkpath: '../../store/layer.tar.gz' },
          [config]: { path: config, type: 'Link', linkpath: 'store/config.json' }
        },
        [
          { path: 'store/layer.tar.gz', body: layerBody },
          { path: 'store/config.json', body: configBody }
        ]
      )
    )
    const result = await push({
      layout: path.join(area.work, 'layout.tar'),
      registry: reg.host,
      reference: 'hostile/linked:v1'
    })
    expect(result.digest).toBe(base.manifest.digest)
    expect(await headStatus('hostile/linked', 'manifests', 'v1')).toBe(200)
    expect(await headStatus('hostile/linked', 'blobs', base.layer.digest)).toBe(200)
    await rm(area.root, { recursive: true, force: true })
  })
})

describe('tar tricks', () => {
  /** Sets the size field of the `n`th header of a tar built by makeTar, fixing its checksum. */
  function patchSize(tar: Buffer, headerAt: number, field: Buffer): Buffer {
    const out = Buffer.from(tar)
    field.copy(out, headerAt + 124)
    out.fill(0x20, headerAt + 148, headerAt + 156)
    let sum = 0
    for (let i = headerAt; i < headerAt + 512; i++) sum += out[i]
    out.write(`${sum.toString(8).padStart(6, '0')}\0 `, headerAt + 148, 8, 'latin1')
    return out
  }

  it.each<[string, () => Buffer, RegExp]>([
    [
      'a PAX path climbing out',
      () =>
        makeTar(
          withMembers(base, {}, [
            { path: 'harmless', pax: { path: '../canary/evil' }, body: Buffer.from('x') }
          ])
        ),
      /member "\.\.\/canary\/evil" points outside the archive/
    ],
    [
      'a PAX path that is absolute',
      () =>
        makeTar(
          withMembers(base, {}, [
            { path: 'harmless', pax: { path: '/etc/cron.d/x' }, body: Buffer.from('x') }
          ])
        ),
      /member "\/etc\/cron\.d\/x" points outside the archive \(an absolute name\)/
    ],
    [
      'a PAX linkpath leaving the layout',
      () =>
        makeTar(
          withMembers(base, {}, [
            { path: 'link', type: 'SymbolicLink', linkpath: 'ok', pax: { linkpath: '/etc/shadow' } }
          ])
        ),
      /link is a symbolic link to "\/etc\/shadow" \(outside the layout\)/
    ],
    [
      'a GNU long name climbing out',
      () =>
        makeTar(
          withMembers(base, {}, [
            {
              path: '././@LongLink',
              type: 'NextFileHasLongPath',
              body: Buffer.from(`${'../'.repeat(40)}canary/evil\0`)
            },
            { path: 'harmless', body: Buffer.from('x') }
          ])
        ),
      /member "(\.\.\/)+canary\/evil" points outside the archive/
    ],
    [
      'a PAX header larger than 1 MiB',
      () =>
        makeTar(
          withMembers(base, {}, [
            { path: 'x', pax: { comment: 'c'.repeat(1 << 20) }, body: Buffer.from('x') }
          ])
        ),
      /tar extended header at byte \d+ is \d+ bytes long/
    ],
    [
      'a negative size',
      () => patchSize(makeTar(base.members), 0, Buffer.from([0xff, ...Array(11).fill(0xff)])),
      /tar header at byte 0 has a negative size/
    ],
    [
      'a size past the end of the file',
      () => patchSize(makeTar(base.members), 0, Buffer.from('77777777777\0')),
      /truncated tar: "oci-layout" ends past the end of the file/
    ],
    [
      'a base-256 size beyond 2^53',
      () => patchSize(makeTar(base.members), 0, Buffer.from([0x80, ...Array(11).fill(0xff)])),
      /corrupt tar header at byte 0 \(parsed number outside of javascript safe integer range\)/
    ],
    [
      'a symlink loop',
      () =>
        makeTar(
          withMembers(
            base,
            {
              [blobName(base.layer.digest)]: {
                path: blobName(base.layer.digest),
                type: 'SymbolicLink',
                linkpath: 'loop'
              }
            },
            [
              {
                path: 'blobs/sha256/loop',
                type: 'SymbolicLink',
                linkpath: base.layer.digest.slice(7)
              }
            ]
          )
        ),
      /passes through more than 16 links \(a link loop\)/
    ]
  ])('%s', async (name, bytes, error) => {
    await expectRefused(
      async (area) => {
        await writeFile(path.join(area.work, 'layout.tar'), bytes())
        return 'layout.tar'
      },
      error,
      { via: name === 'a PAX path climbing out' ? 'action' : 'library' }
    )
  })
})

describe('long link targets', () => {
  it.each(['pax', 'gnu'])(
    'a symlinked blob whose target is over 100 characters reads through (%s format)',
    async (format) => {
      const area = await makeArea()
      const src = path.join(area.work, 'src')
      await execFileP('cp', ['-r', base.dir, src])
      const deep = `cas/${'d'.repeat(90)}/${'e'.repeat(90)}`
      const blob = path.join(src, blobName(base.layer.digest))
      await mkdir(path.join(src, deep), { recursive: true })
      await copyFile(blob, path.join(src, deep, 'layer'))
      await rm(blob)
      await symlink(`../../${deep}/layer`, blob)
      const file = path.join(area.work, `${format}.tar`)
      await execFileP('tar', [`--format=${format}`, '-C', src, '-cf', file, '.'])
      const layout = await LayoutSource.open(file)
      try {
        const store = new MemoryStore()
        await copyGraph(layout, await layout.resolve('v1'), store)
        expect(store.blobs.get(base.layer.digest)?.length).toBe(base.layer.size)
      } finally {
        await layout.close()
      }
      await rm(area.root, { recursive: true, force: true })
    }
  )
})

describe('hostile layout directories', () => {
  /** A copy of the base layout directory inside the work area. */
  async function dirLayout(area: Area): Promise<string> {
    await execFileP('cp', ['-r', base.dir, path.join(area.work, 'layout')])
    return path.join(area.work, 'layout')
  }

  it('a FIFO where a blob should be is refused, never opened (no hang)', async () => {
    await expectRefused(
      async (area) => {
        const dir = await dirLayout(area)
        const blob = path.join(dir, blobName(base.layer.digest))
        await rm(blob)
        await execFileP('mkfifo', [blob])
        return 'layout'
      },
      new RegExp(`layout: ${blobName(base.layer.digest)} is a FIFO, not a regular file`)
    )
  })

  it('a FIFO as index.json, and a FIFO as the layout itself', async () => {
    await expectRefused(async (area) => {
      const dir = await dirLayout(area)
      await rm(path.join(dir, 'index.json'))
      await execFileP('mkfifo', [path.join(dir, 'index.json')])
      return 'layout'
    }, /layout: index\.json is a FIFO, not a regular file/)
    await expectRefused(async (area) => {
      await execFileP('mkfifo', [path.join(area.work, 'layout.tar')])
      return 'layout.tar'
    }, /layout layout\.tar is a FIFO, not a layout directory or tar file/)
  })

  // Not root here, the case says so as a skip; the tar device cases above still cover the reader.
  ;(MKNOD_ALLOWED ? it : it.skip)(
    `a character device where a blob should be${MKNOD_ALLOWED ? '' : ' [skipped: mknod needs root]'}`,
    async () => {
      await expectRefused(async (area) => {
        const dir = await dirLayout(area)
        const blob = path.join(dir, blobName(base.config.digest))
        await rm(blob)
        await execFileP('mknod', [blob, 'c', '1', '3'])
        return 'layout'
      }, /is a character device, not a regular file/)
    }
  )

  it('a directory where a blob should be', async () => {
    await expectRefused(async (area) => {
      const dir = await dirLayout(area)
      const blob = path.join(dir, blobName(base.layer.digest))
      await rm(blob)
      await mkdir(blob)
      return 'layout'
    }, /is a directory, not a regular file/)
  })

  it('a symlinked blob leaving the layout, and a symlink loop', async () => {
    await expectRefused(
      async (area) => {
        const dir = await dirLayout(area)
        const blob = path.join(dir, blobName(base.layer.digest))
        await rm(blob)
        await symlink(path.join(area.canary, 'secret'), blob)
        return 'layout'
      },
      new RegExp(`${blobName(base.layer.digest)} links outside the layout`)
    )
    await expectRefused(async (area) => {
      const dir = await dirLayout(area)
      const blob = path.join(dir, blobName(base.layer.digest))
      await rm(blob)
      await symlink('loop-b', blob)
      await symlink(path.basename(blob), path.join(path.dirname(blob), 'loop-b'))
      return 'layout'
    }, /is a symbolic link loop/)
  })

  it('a symlinked blob that stays inside the layout pushes fine (as rules_oci writes them)', async () => {
    const area = await makeArea()
    const dir = await dirLayout(area)
    const blob = path.join(dir, blobName(base.layer.digest))
    await mkdir(path.join(dir, 'cas'))
    await copyFile(blob, path.join(dir, 'cas/layer'))
    await rm(blob)
    await symlink('../../cas/layer', blob)
    const result = await push({ layout: dir, registry: reg.host, reference: 'hostile/dirlink:v1' })
    expect(result.digest).toBe(base.manifest.digest)
    expect(await headStatus('hostile/dirlink', 'blobs', base.layer.digest)).toBe(200)
    await rm(area.root, { recursive: true, force: true })
  })
})

describe('blobs that do not match their descriptors', () => {
  async function dirWith(area: Area, change: (blob: string) => Promise<void>): Promise<string> {
    const dir = path.join(area.work, 'layout')
    await execFileP('cp', ['-r', base.dir, dir])
    await change(path.join(dir, blobName(base.layer.digest)))
    return 'layout'
  }

  it('bytes that do not hash to the digest: stopped before any manifest or tag, the blob not kept', async () => {
    await expectRefused(
      (area) =>
        dirWith(area, async (blob) => {
          const bytes = await readFile(blob)
          bytes[bytes.length - 1] ^= 0xff
          await writeFile(blob, bytes)
        }),
      new RegExp(`blob ${base.layer.digest} in layout: content does not match its digest`),
      { somethingPushed: true }
    )
    // The blob of the last case never reached the registry, in any repository.
    expect(await headStatus(`hostile/case${counter}`, 'blobs', base.layer.digest)).toBe(404)
    expect(await headStatus(`hostile/case${counter}`, 'manifests', base.manifest.digest)).toBe(404)
  })

  it('a blob shorter, and one longer, than its descriptor: caught before anything is sent', async () => {
    await expectRefused(
      (area) => dirWith(area, (blob) => truncate(blob, 10)),
      new RegExp(
        `blob ${base.layer.digest} in layout: 10 bytes, but its descriptor says ${base.layer.size}`
      )
    )
    await expectRefused(
      (area) =>
        dirWith(area, async (blob) => {
          await writeFile(blob, Buffer.concat([await readFile(blob), Buffer.from('trailing')]))
        }),
      new RegExp(`${base.layer.size + 8} bytes, but its descriptor says ${base.layer.size}`)
    )
  })

  it('a manifest blob that does not match its digest (in a tar)', async () => {
    const name = blobName(base.manifest.digest)
    const body = Buffer.from(
      (base.members.find((m) => m.path === name)?.body as Buffer)
        .toString()
        .replace('"layers"', '"layerz"')
    )
    await expectRefused(
      (area) => writeTar(area, withMembers(base, { [name]: { path: name, body } })),
      new RegExp(
        `manifest ${base.manifest.digest} in \\S*layout\\.tar: content does not match its digest`
      )
    )
  })
})

describe('broken archives', () => {
  const tarBytes = (): Buffer => makeTar(base.members)

  it.each<[string, () => Buffer, RegExp]>([
    [
      'a tar cut inside a member',
      () => tarBytes().subarray(0, 512 * 5 + 100),
      /layout\.tar: truncated tar: ".*" ends past the end of the file/
    ],
    [
      'a tar cut inside a header',
      () => tarBytes().subarray(0, 1024 + 300),
      /layout\.tar: truncated tar header at byte 1024/
    ],
    [
      'a corrupt header',
      () => flip(tarBytes(), 1030),
      /layout\.tar: corrupt tar header at byte 1024/
    ],
    [
      'not a tar at all',
      () => Buffer.from('{"hello": "this is JSON, not a tar"}\n'.repeat(40)),
      /layout\.tar: not a tar archive/
    ],
    ['an empty file', () => Buffer.alloc(0), /layout\.tar: the file is empty/],
    ['a few bytes', () => Buffer.from('tar?'), /layout\.tar: not a tar archive/],
    ['corrupt gzip', () => flip(gzipSync(tarBytes()), 200), /layout\.tar: corrupt gzip data/],
    [
      'truncated gzip',
      () => gzipSync(tarBytes()).subarray(0, 300),
      /layout\.tar: corrupt gzip data \(unexpected end of file\)/
    ],
    [
      'gzip of something that is not a tar',
      () => gzipSync(Buffer.from('plain text '.repeat(100))),
      /layout\.tar: not a tar archive/
    ],
    ['gzip of nothing', () => gzipSync(Buffer.alloc(0)), /layout\.tar: the file is empty/]
  ])('%s', async (name, bytes, error) => {
    await expectRefused(
      async (area) => {
        await writeFile(path.join(area.work, 'layout.tar'), bytes())
        return 'layout.tar'
      },
      error,
      { via: viaAction.has(name) ? 'action' : 'library' }
    )
  })
})

/** Table rows that also run through the bundled action; the rest call push() directly. */
const viaAction = new Set([
  'a tar cut inside a member',
  'corrupt gzip',
  'an empty file',
  'not JSON',
  'a digest that is a path',
  'larger than 4 MiB'
])

function flip(buf: Buffer, at: number): Buffer {
  const out = Buffer.from(buf)
  for (let i = at; i < at + 8 && i < out.length; i++) out[i] ^= 0x5a
  return out
}

describe('broken index.json and manifests', () => {
  const index = (manifests: unknown, extra: Record<string, unknown> = {}): Buffer =>
    Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests, ...extra })
    )
  const entry = (): Descriptor => ({
    mediaType: MediaType.OciManifest,
    digest: base.manifest.digest,
    size: base.manifest.size,
    annotations: { 'org.opencontainers.image.ref.name': 'v1' }
  })
  const withIndex = (body: Buffer) => (area: Area) =>
    writeTar(area, withMembers(base, { 'index.json': { path: 'index.json', body } }))

  it.each<[string, () => Buffer, RegExp]>([
    [
      'not JSON',
      () => Buffer.from('{"schemaVersion": 2, "manifests": ['),
      /layout\.tar: index\.json is not valid JSON/
    ],
    [
      'a JSON list',
      () => Buffer.from('[1, 2]'),
      /layout\.tar: index\.json is a list, not a JSON object/
    ],
    [
      'manifests is a string',
      () => index('sha256:abc'),
      /index\.json "manifests" is "sha256:abc", not a list/
    ],
    [
      'schemaVersion 3',
      () => Buffer.from(JSON.stringify({ schemaVersion: 3, manifests: [entry()] })),
      /index\.json has schemaVersion 3; only 2 is supported/
    ],
    [
      'schemaVersion "2"',
      () => Buffer.from(JSON.stringify({ schemaVersion: '2', manifests: [entry()] })),
      /index\.json has schemaVersion "2"; only 2 is supported/
    ],
    [
      'a deeply nested schemaVersion',
      () =>
        Buffer.from(
          `{"manifests":[${JSON.stringify(entry())}],"schemaVersion":${'['.repeat(100000)}${']'.repeat(100000)}}`
        ),
      /index\.json has schemaVersion a list/
    ],
    [
      'size as a string',
      () => index([{ ...entry(), size: String(base.manifest.size) }]),
      /index\.json manifests\[0\]: not a valid descriptor \(size is "\d+", not a non-negative integer\)/
    ],
    [
      'a negative size',
      () => index([{ ...entry(), size: -1 }]),
      /manifests\[0\]: not a valid descriptor \(size is -1/
    ],
    [
      'a huge size',
      () => index([{ ...entry(), size: 1e300 }]),
      /manifests\[0\]: not a valid descriptor \(size is 1e\+300/
    ],
    [
      'digest as a number',
      () => index([{ ...entry(), digest: 5 }]),
      /manifests\[0\]: not a valid descriptor \(digest is 5\)/
    ],
    [
      'a digest that is a path',
      () => index([{ ...entry(), digest: 'sha256:../../../canary/secret' }]),
      /manifests\[0\]: not a valid descriptor \(digest "sha256:\.\.\/\.\.\/\.\.\/canary\/secret" is not a valid digest\)/
    ],
    [
      'an annotation that is not a string',
      () => index([{ ...entry(), annotations: { 'org.opencontainers.image.ref.name': 1 } }]),
      /manifests\[0\]: not a valid descriptor \(annotations must map strings to strings\)/
    ],
    [
      'a platform of the wrong shape',
      () => index([{ ...entry(), platform: 'linux/amd64' }]),
      /manifests\[0\]: not a valid descriptor \(platform needs string os and architecture\)/
    ],
    ['a null entry', () => index([null]), /manifests\[0\]: not a valid descriptor \(is null/],
    [
      'an unsupported digest algorithm',
      () => index([{ ...entry(), digest: `md5:${'0'.repeat(32)}` }]),
      new RegExp(`manifest md5:0+ in \\S*layout\\.tar: unsupported digest`)
    ],
    [
      'larger than 4 MiB',
      () => Buffer.concat([index([entry()]), Buffer.alloc(4 * 1024 * 1024, ' ')]),
      /layout\.tar: index\.json is \d+ bytes, over the 4194304-byte limit/
    ]
  ])('index.json: %s', async (name, body, error) => {
    await expectRefused(withIndex(body()), error, {
      via: viaAction.has(name) ? 'action' : 'library'
    })
  })

  /** A layout whose index.json points at `bytes` stored as a blob under their true digest. */
  const manifestCase =
    (bytes: Buffer, mediaType: string = MediaType.OciManifest) =>
    async (area: Area): Promise<string> => {
      const digest = sha256(bytes)
      const desc = { mediaType, digest, size: bytes.length }
      return writeTar(
        area,
        withMembers(base, { 'index.json': { path: 'index.json', body: index([desc]) } }, [
          { path: blobName(digest), body: bytes }
        ])
      )
    }
  const good = () =>
    JSON.parse(
      (
        base.members.find((m) => m.path === blobName(base.manifest.digest))?.body as Buffer
      ).toString()
    ) as Record<string, unknown>

  it.each<[string, () => Buffer, RegExp]>([
    [
      'not JSON',
      () => Buffer.from('not json at all'),
      /manifest sha256:[0-9a-f]{64} in \S*layout\.tar is not valid JSON/
    ],
    [
      'schemaVersion 1',
      () => Buffer.from(JSON.stringify({ ...good(), schemaVersion: 1 })),
      /in \S*layout\.tar has schemaVersion 1; only 2 is supported/
    ],
    [
      'layers is an object',
      () => Buffer.from(JSON.stringify({ ...good(), layers: {} })),
      /in \S*layout\.tar: a manifest needs a "layers" list/
    ],
    [
      'config missing',
      () => Buffer.from(JSON.stringify({ ...good(), config: undefined })),
      /in \S*layout\.tar config: not a valid descriptor \(is missing/
    ],
    [
      'a layer with a negative size',
      () => Buffer.from(JSON.stringify({ ...good(), layers: [{ ...base.layer, size: -5 }] })),
      /in \S*layout\.tar layers\[0\]: not a valid descriptor \(size is -5/
    ],
    [
      'mediaType is a number',
      () => Buffer.from(JSON.stringify({ ...good(), mediaType: 7 })),
      /has mediaType 7, not a string/
    ],
    [
      'a mediaType that is no manifest',
      () => Buffer.from(JSON.stringify({ ...good(), mediaType: 'text/plain' })),
      /has mediaType "text\/plain", which is not an image manifest or index/
    ],
    [
      'an index whose manifests is not a list',
      () =>
        Buffer.from(
          JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: 'x' })
        ),
      /: an index needs a "manifests" list/
    ],
    [
      'a layer that does not exist',
      () =>
        Buffer.from(
          JSON.stringify({
            ...good(),
            layers: [{ ...base.layer, digest: sha256(Buffer.from('nowhere')) }]
          })
        ),
      new RegExp(
        `blob ${sha256(Buffer.from('nowhere'))} in \\S*layout\\.tar is missing \\(referenced by manifest sha256:`
      )
    ],
    [
      'larger than 4 MiB',
      () =>
        Buffer.from(
          JSON.stringify({ ...good(), annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } })
        ),
      /manifest sha256:[0-9a-f]{64} in \S*layout\.tar is \d+ bytes, over the 4194304-byte manifest limit/
    ]
  ])('manifest: %s', async (name, bytes, error) => {
    await expectRefused(manifestCase(bytes()), error, {
      via: viaAction.has(name) ? 'action' : 'library'
    })
  })

  it('index.json naming a manifest that is not in the layout', async () => {
    const digest = sha256(Buffer.from('absent'))
    await expectRefused(
      withIndex(index([{ ...entry(), digest }])),
      new RegExp(`manifest ${digest} in \\S*layout\\.tar is missing`)
    )
  })
})

describe('graph shape: loops and nesting', () => {
  for (const corpus of CORPORA) {
    const LOOP = layoutIn(corpus, 'regclient-testrepo')
    const { loop, loopChild, loopChildReferrers } = corpus.facts
    const short = (d: string): string => d.slice(7, 19)

    itWith(
      corpus,
      ['regclient-testrepo'],
      'the fixture tag `loop` pushes and terminates (its cycle runs only through referrers)',
      async () => {
        const result = await push({
          layout: `${LOOP}:loop`,
          registry: reg.host,
          reference: `hostile/loop-${corpus.name}:v1`
        })
        expect(result.digest).toBe(loop)
        expect(await headStatus(`hostile/loop-${corpus.name}`, 'manifests', 'v1')).toBe(200)
      }
    )

    itWith(
      corpus,
      ['regclient-testrepo'],
      'followed through its referrers fallback tags, the `loop` index is reported as a cycle',
      async () => {
        const src = await LayoutSource.open(LOOP)
        try {
          // The referrers of X are the index tagged sha256-<hex of X>: loop → child → that → loop.
          const referrers = async (node: { desc: Descriptor }): Promise<Descriptor[]> => {
            const tag = `sha256-${node.desc.digest.slice(7)}`
            return src.tags().includes(tag) ? [await src.resolve(tag)] : []
          }
          const err = await loadGraph(src, await src.resolve('loop'), {
            extraSuccessors: referrers
          }).catch((e: unknown) => e)
          expect(err).toBeInstanceOf(OciError)
          const cycle = [loop, loopChild, loopChildReferrers, loop].map(short).join(' → ')
          expect(String(err)).toContain(`${short(loop)} leads back to itself (${cycle})`)
        } finally {
          await src.close()
        }
      }
    )
  }

  /** A chain of `levels` manifests: `levels - 1` nested indexes over one image manifest. */
  async function chain(levels: number): Promise<{ dir: string; top: Desc }> {
    const { dir, manifest } = await makeImageLayout()
    let top: Desc = manifest
    for (let i = 1; i < levels; i++) {
      top = await writeJsonBlob(dir, MediaType.OciIndex, {
        schemaVersion: 2,
        mediaType: MediaType.OciIndex,
        manifests: [top],
        annotations: { level: String(i) }
      })
    }
    await writeIndex(dir, [{ ...top, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }])
    return { dir, top }
  }

  it(`${MAX_GRAPH_DEPTH} levels of manifests load; ${MAX_GRAPH_DEPTH + 1} are refused`, async () => {
    for (const levels of [MAX_GRAPH_DEPTH, MAX_GRAPH_DEPTH + 1]) {
      const { dir, top } = await chain(levels)
      const src = await LayoutSource.open(dir)
      try {
        const result = loadGraph(src, top)
        if (levels <= MAX_GRAPH_DEPTH) expect((await result).nodes).toHaveLength(levels + 2)
        else await expect(result).rejects.toThrow(/manifests nest more than 32 levels deep/)
      } finally {
        await src.close()
      }
    }
  })

  it('absurd nesting (500 levels) fails fast through the action, nothing pushed', async () => {
    await expectRefused(async (area) => {
      const { dir } = await chain(500)
      await execFileP('cp', ['-r', dir, path.join(area.work, 'layout')])
      return 'layout'
    }, /::error title=Push failed::layout: manifests nest more than 32 levels deep under sha256:[0-9a-f]{64} \(at manifest sha256:/)
  })

  it('a blob named twice with different sizes is refused', async () => {
    const { dir } = await makeImageLayout()
    const blob = await writeBlob(dir, 'application/octet-stream', Buffer.from('twice'))
    const m = await writeJsonBlob(dir, MediaType.OciManifest, {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { ...blob, mediaType: 'application/vnd.oci.empty.v1+json' },
      layers: [{ ...blob, size: 6 }]
    })
    await writeIndex(dir, [m])
    const src = await LayoutSource.open(dir)
    await expect(loadGraph(src, m)).rejects.toThrow(/5 bytes, but its descriptor says 6/)
    await src.close()
  })
})

describe('errors are typed', () => {
  it('the reader throws LayoutError, never a raw Node error', async () => {
    const area = await makeArea()
    const fifo = path.join(area.work, 'fifo')
    await execFileP('mkfifo', [fifo])
    for (const location of [fifo, path.join(area.work, 'missing'), '/proc/self/mem']) {
      const err = await LayoutSource.open(location).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(LayoutError)
    }
    await rm(area.root, { recursive: true, force: true })
  })
})
