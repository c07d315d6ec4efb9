// The command line, run as a user runs it: `node dist/cli.js` (the bundle built from src/).
import { copyFile, readFile } from 'node:fs/promises'
import path from 'node:path'
import { INPUT_NAMES } from '../../src/inputs.js'
import { CLI_BUNDLE, runCli, type CliRun } from '../helpers/action.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { imageWithArtifacts } from '../helpers/layouts.js'
import { headStatus, startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'

const CLI = CLI_BUNDLE

const cli = (args: string[], script = CLI): Promise<CliRun> => runCli(args, { script })

/**
 * Flags that mean nothing on the command line: the command is the direction; no job summary;
 * the merged index's annotations are `oci-layout merge --annotation`.
 */
const NOT_FLAGS = ['direction', 'summary', 'annotations']

describe('the command line (node cli.js)', () => {
  it('--help lists every flag with a line saying what it does', async () => {
    const run = await cli(['--help'])
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('')
    const lines = run.stdout.split('\n')
    for (const name of [...INPUT_NAMES.filter((n) => !NOT_FLAGS.includes(n)), 'help', 'version']) {
      const line = lines.find((l) => new RegExp(`^\\s+(?:-\\w, )?--${name}\\b`).test(l))
      expect({ name, line }).toEqual({ name, line: expect.stringMatching(/\S {2,}\w.{10,}/) })
    }
    expect((await cli(['-h'])).stdout).toBe(run.stdout)
  })

  it('--version prints the package version, also from a copy of the bundle standing alone', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string }
    const run = await cli(['--version'])
    expect(run).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' })
    const alone = path.join(await tmpDir('cli-alone-'), 'oci-layout.mjs')
    await copyFile(CLI, alone)
    expect(await cli(['--version'], alone)).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' })
  })

  it('usage mistakes: one clear line and a non-zero status', async () => {
    const none = await cli([])
    expect(none.code).toBe(2)
    expect(none.stdout).toBe('')
    expect(none.stderr).toMatch(/^error: no command given: push or pull\n/)
    expect(none.stderr).toContain('usage: oci-layout push')
    expect(none.stderr).not.toContain('unknown command ""')

    expect(await cli(['frobnicate'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^error: unknown command frobnicate: push or pull\b/)
    })
    for (const args of [
      ['push', '--foo'],
      ['push', '--foo=bar', '--layout', 'x']
    ])
      expect(await cli(args)).toEqual({
        code: 2,
        stdout: '',
        stderr: 'error: unknown option --foo (see oci-layout --help)\n'
      })
    expect(await cli(['push', '--layout'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: option --layout needs a value (see oci-layout --help)\n'
    })
    const conflict = await cli([
      'push',
      '--direction',
      'pull',
      '--layout',
      `${BUILDX}:v1`,
      '--reference',
      'localhost:5000/org/app'
    ])
    expect(conflict.code).toBe(2)
    expect(conflict.stderr).toMatch(/^error: .*--direction pull.*\bpush\b/)
    expect(conflict.stderr.trim().split('\n')).toHaveLength(1)
    const summary = await cli(['push', '--summary', 'false'])
    expect(summary.code).toBe(2)
    expect(summary.stderr).toMatch(/^error: .*--summary/)
    expect(await cli(['push', 'extra'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^error: unexpected argument extra\b/)
    })
    expect(await cli(['push', '--referrers', 'maybe'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^error: unexpected argument maybe\b/)
    })
  })

  describe('against a registry', () => {
    let reg: TestRegistry
    beforeAll(async () => {
      reg = await startRegistry()
    })
    afterAll(async () => {
      await reg.stop()
    })

    it('boolean flags need no value; false still turns them off; list flags repeat', async () => {
      const { dir, image } = await imageWithArtifacts(['sbom'])
      const fallback = (repo: string): Promise<number> =>
        headStatus(reg.host, `/v2/${repo}/manifests/${image.digest.replace(':', '-')}`)
      const on = await cli([
        'push',
        '--referrers',
        '--layout',
        `${dir}:v1`,
        '--insecure',
        '--reference',
        `${reg.host}/flags/on:v1`,
        '--tags',
        'a',
        '--tags',
        'b'
      ])
      expect(on.stderr).not.toMatch(/^error/m)
      expect(on.code).toBe(0)
      expect(on.stdout).toBe(`${image.digest}\n`)
      expect(on.stderr).toContain(`TLS verification is off for ${reg.host}`)
      expect(await fallback('flags/on')).toBe(200)
      for (const tag of ['a', 'b'])
        expect(await remoteDigest(`${reg.host}/flags/on:${tag}`)).toBe(image.digest)

      for (const [repo, args] of [
        ['flags/off1', ['--referrers', 'false']],
        ['flags/off2', ['--referrers=false']],
        ['flags/off3', ['--referrers=FALSE', '--insecure', 'false']]
      ] as const) {
        const off = await cli([
          'push',
          ...args,
          '--layout',
          `${dir}:v1`,
          '--reference',
          `${reg.host}/${repo}:v1`
        ])
        expect(off.code).toBe(0)
        expect(off.stderr).not.toContain('TLS verification is off')
        expect(await fallback(repo)).toBe(404)
      }
      const explicit = await cli([
        'push',
        '--referrers=true',
        '--layout',
        `${dir}:v1`,
        '--reference',
        `${reg.host}/flags/on2:v1`
      ])
      expect(explicit.code).toBe(0)
      expect(await fallback('flags/on2')).toBe(200)
    })

    it('the closing line counts bytes per destination, never more than there was', async () => {
      const run = await cli([
        'push',
        '--layout',
        `${BUILDX}:v1`,
        '--reference',
        `${reg.host}/close/app:v1`,
        '--tags',
        `${reg.host}/close/mirror:v1`
      ])
      expect(run.code).toBe(0)
      expect(run.stdout).toBe(`${BUILDX_DIGEST}\n`)
      expect(run.stderr).toMatch(
        new RegExp(
          `^Pushed ${reg.host}/close/app:v1 \\(${BUILDX_DIGEST}\\): [\\d.]+ KiB sent to 2 destinations \\(image [\\d.]+ KiB\\)`,
          'm'
        )
      )
      const failed = await cli(['push', '--layout', '/nope.tar', '--reference', `${reg.host}/x:v1`])
      expect(failed.code).toBe(1)
      expect(failed.stderr).toMatch(/^error: layout \/nope\.tar does not exist/)
    })
  })
})
