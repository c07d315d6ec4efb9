// The log and the job summary of a run, as a person reading a release job sees them: what moved
// where, per destination, in figures that add up; the transfer details folded away.
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parse } from 'yaml'
import { runAction, type ActionRun } from '../helpers/action.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { imageWithArtifacts } from '../helpers/layouts.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { tmpDir } from '../helpers/skopeo.js'

interface Group {
  title: string
  lines: string[]
}

/** The log split into its ::group:: blocks and the lines outside any. */
function readLog(stdout: string): { groups: Group[]; top: string[] } {
  const groups: Group[] = []
  const top: string[] = []
  let open: Group | undefined
  for (const line of stdout.split('\n')) {
    if (line.startsWith('::group::')) {
      expect(open).toBeUndefined() // groups do not nest on the runner
      open = { title: line.slice('::group::'.length), lines: [] }
      groups.push(open)
    } else if (line.startsWith('::endgroup::')) {
      expect(open).toBeDefined()
      open = undefined
    } else if (open) open.lines.push(line)
    else top.push(line)
  }
  expect(open).toBeUndefined()
  return { groups, top }
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }
const bytes = (text: string): number => {
  const [n, unit] = text.split(' ')
  return Number(n) * UNITS[unit]
}
const SIZE = String.raw`[\d.]+ (?:B|KiB|MiB|GiB)`

/** Every "X sent of Y" / "X received of Y" in a text: none may claim more than there was. */
function expectNoOvercount(text: string): void {
  for (const m of text.matchAll(new RegExp(`(${SIZE}) (?:sent|received) of (${SIZE})`, 'g')))
    expect(bytes(m[1])).toBeLessThanOrEqual(bytes(m[2]))
}

/** The summary without its <details> blocks, and the blocks by their <summary> line. */
function readSummary(md: string): { open: string; folds: Map<string, string> } {
  const folds = new Map<string, string>()
  const open = md.replace(
    /<details><summary>(.*?)<\/summary>([\s\S]*?)<\/details>/g,
    (_m, title: string, body: string) => {
      folds.set(title, body)
      return ''
    }
  )
  return { open, folds }
}

async function summaryFile(): Promise<string> {
  const file = path.join(await tmpDir('summary-'), 'summary.md')
  await writeFile(file, '')
  return file
}

/** The `metadata` output's keys are each named where the output is documented. */
async function expectMetadataDocumented(run: ActionRun): Promise<void> {
  const keys = Object.keys(JSON.parse(run.outputs.metadata) as object)
  const action = parse(await readFile('action.yml', 'utf8')) as {
    outputs: Record<string, { description: string }>
  }
  const readme = await readFile('README.md', 'utf8')
  const paragraph = /^`metadata` holds[\s\S]*?\n\n/m.exec(readme)?.[0] ?? ''
  for (const key of keys) {
    expect(`${key}: ${action.outputs.metadata.description}`).toContain(`\`${key}\``)
    expect(`${key}: ${paragraph}`).toContain(`\`${key}\``)
  }
}

describe('the log and the job summary', () => {
  let reg: TestRegistry
  let other: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry({ users: { ci: 'pa55word' } })
    other = await startRegistry({ users: { mirror: 'mirror-pass' } })
  })
  afterAll(async () => {
    await reg.stop()
    await other.stop()
  })
  const login = (): Record<string, string> => ({ username: 'ci', password: 'pa55word' })

  it('a release to three repositories on two registries: tags named in full, figures per destination, details folded', async () => {
    const summary = await summaryFile()
    const dockerConfig = await tmpDir('docker-config-')
    await writeFile(
      path.join(dockerConfig, 'config.json'),
      JSON.stringify({
        auths: { [other.host]: { auth: Buffer.from('mirror:mirror-pass').toString('base64') } }
      })
    )
    const run = await runAction(
      {
        layout: `${BUILDX}:v1`,
        registry: reg.host,
        reference: 'org/app:1.2.3',
        ...login(),
        tags: ['latest', `${reg.host}/org/mirror:1.2.3`, `${other.host}/backup/app:1.2.3`].join(
          '\n'
        )
      },
      { GITHUB_STEP_SUMMARY: summary, DOCKER_CONFIG: dockerConfig }
    )
    expect(run.stdout).not.toMatch(/::error/)
    expect(run.code).toBe(0)
    const { groups, top } = readLog(run.stdout)

    // Each tag line names the repository it was written to.
    const tagged = top.filter((l) => l.startsWith('tagged '))
    expect(tagged).toEqual([
      `tagged ${reg.host}/org/app:1.2.3`,
      `tagged ${reg.host}/org/app:latest`,
      `tagged ${reg.host}/org/mirror:1.2.3`,
      `tagged ${other.host}/backup/app:1.2.3`
    ])

    // Where the credentials came from is readable without unfolding anything.
    for (const host of [reg.host, other.host])
      expect(top.some((l) => l.startsWith(`Using credentials for ${host} from `))).toBe(true)
    for (const g of groups) expect(g.lines.join('\n')).not.toMatch(/Using credentials/)

    // One group per repository, each titled once, with the blob lines inside.
    const titles = groups.map((g) => g.title)
    expect(titles).toEqual([...new Set(titles)])
    for (const repo of [
      `${reg.host}/org/app`,
      `${reg.host}/org/mirror`,
      `${other.host}/backup/app`
    ])
      expect(titles).toContain(`Pushing to ${repo}`)
    const mirror = groups.find((g) => g.title === `Pushing to ${reg.host}/org/mirror`)
    expect(mirror?.lines.join('\n')).toMatch(/blob +[0-9a-f]{12} +[\d.]+ KiB +mounted/)

    // The closing line: bytes sent across three destinations, against the size of one image.
    const closing = top.find((l) => l.startsWith('Pushed ')) ?? ''
    expect(closing).toMatch(
      new RegExp(
        `^Pushed ${reg.host}/org/app:1\\.2\\.3 \\(${BUILDX_DIGEST}\\): ${SIZE} sent to 3 destinations \\(image ${SIZE}\\)`
      )
    )
    expectNoOvercount(run.stdout)

    // The summary: one short table of destinations, the per-blob rows folded per destination.
    const md = await readFile(summary, 'utf8')
    expectNoOvercount(md)
    const { open, folds } = readSummary(md)
    expect(open).toContain('| destination | tags | uploaded | mounted | already present | sent |')
    const row = (repo: string): string[] =>
      (open.split('\n').find((l) => l.startsWith(`| \`${repo}\` |`)) ?? '')
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim())
    const app = row(`${reg.host}/org/app`)
    expect(app.slice(0, 2)).toEqual([`\`${reg.host}/org/app\``, '`1.2.3`, `latest`'])
    expect(Number(app[2])).toBeGreaterThan(0) // uploaded
    const mirrored = row(`${reg.host}/org/mirror`)
    expect(mirrored[1]).toBe('`1.2.3`')
    expect(Number(mirrored[3])).toBeGreaterThan(0) // mounted
    expect(bytes(mirrored[5])).toBeLessThan(bytes(app[5])) // mounted layers are not sent
    expect(row(`${other.host}/backup/app`)[1]).toBe('`1.2.3`')
    // No blob row outside the folds, and the open part stays short.
    expect(open).not.toMatch(/\| `[0-9a-f]{12}` \|/)
    expect(open.split('\n').length).toBeLessThan(30)
    expect(folds.size).toBe(3)
    for (const repo of [
      `${reg.host}/org/app`,
      `${reg.host}/org/mirror`,
      `${other.host}/backup/app`
    ])
      expect([...folds.keys()].some((k) => k.includes(repo))).toBe(true)
    const mirrorFold = [...folds].find(([k]) => k.includes(`${reg.host}/org/mirror`))?.[1] ?? ''
    expect(mirrorFold).toMatch(/\| `[0-9a-f]{12}` \| blob \| [\d.]+ KiB \| mounted \|/)
  })

  it('referrers get a group of their own, and the metadata output is documented key by key', async () => {
    const { dir, image } = await imageWithArtifacts(['sbom', 'signature'])
    const run = await runAction({
      layout: `${dir}:v1`,
      registry: reg.host,
      reference: 'ref/app:v1',
      ...login(),
      referrers: 'true'
    })
    expect(run.stdout).not.toMatch(/::error/)
    expect(run.code).toBe(0)
    const titles = readLog(run.stdout).groups.map((g) => g.title)
    expect(titles).toEqual([
      `Pushing to ${reg.host}/ref/app`,
      `Referrers of ${image.digest} to ${reg.host}/ref/app`
    ])
    expect(JSON.parse(run.outputs.metadata)).toHaveProperty('referrers')
    await expectMetadataDocumented(run)
  })

  it('a re-push of what is already there says so, instead of a rate of 0 B/s', async () => {
    const inputs = {
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'org/again:v1',
      ...login()
    }
    const first = await runAction(inputs)
    expect(first.code).toBe(0)
    const items = /^(\d+) items, /m.exec(first.stdout)?.[1]
    const summary = await summaryFile()
    const again = await runAction(inputs, { GITHUB_STEP_SUMMARY: summary })
    expect(again.code).toBe(0)
    const closing = again.stdout.split('\n').find((l) => l.startsWith('Pushed ')) ?? ''
    expect(closing).toContain(`nothing to send, ${items} items already present`)
    const md = await readFile(summary, 'utf8')
    expect(md).toContain(`nothing to send, ${items} items already present`)
    expect(md).not.toMatch(/\b0 B\/s/)
  })

  it('a pull: figures for the one layout written, and nothing to download the second time', async () => {
    const out = await tmpDir('report-pull-')
    const inputs = {
      direction: 'pull',
      registry: reg.host,
      reference: 'org/app:1.2.3',
      layout: out,
      ...login()
    }
    const summary = await summaryFile()
    const first = await runAction(inputs, { GITHUB_STEP_SUMMARY: summary })
    expect(first.stdout).not.toMatch(/::error/)
    expect(first.code).toBe(0)
    const { groups, top } = readLog(first.stdout)
    expect(groups.map((g) => g.title)).toEqual([`Pulling from ${reg.host}/org/app:1.2.3`])
    expect(top.find((l) => l.startsWith('Pulled '))).toMatch(
      new RegExp(
        `^Pulled ${reg.host}/org/app:1\\.2\\.3 \\(${BUILDX_DIGEST}\\) into ${out}: ${SIZE} received of ${SIZE}`
      )
    )
    expectNoOvercount(first.stdout)
    const { open } = readSummary(await readFile(summary, 'utf8'))
    expect(open).toContain('| layout | tags | downloaded | already present | received |')
    await expectMetadataDocumented(first)

    const again = await runAction(inputs)
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/^Pulled .*: nothing to download, \d+ items already present/m)
  })
})
