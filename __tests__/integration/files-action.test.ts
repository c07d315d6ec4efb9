// The action's `files` input, run as the runner runs it: files pushed as an artifact (and
// attached to an image), pulled back into a directory from the registry and from a local layout,
// skopeo checking the digests.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { runAction, runCli } from '../helpers/action.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile())
      out[path.relative(dir, path.join(e.parentPath, e.name))] = await readFile(
        path.join(e.parentPath, e.name),
        'utf8'
      )
  return out
}

let reg: TestRegistry
let work: string
beforeAll(async () => {
  reg = await startRegistry()
  work = await tmpDir('files-action-')
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n')
  await mkdir(path.join(work, 'chart', 'templates'), { recursive: true })
  await writeFile(path.join(work, 'chart', 'Chart.yaml'), 'name: app\n')
  await writeFile(path.join(work, 'chart', 'templates', 'svc.yaml'), 'kind: Service\n')
})
afterAll(async () => {
  await reg.stop()
})

it('pushes files as an artifact and pulls them back, from the registry and a layout', async () => {
  const pushed = await runAction(
    {
      reference: `${reg.host}/rel/bundle:v1`,
      files: 'notes.txt:text/plain\nchart',
      'artifact-type': 'application/vnd.example.bundle'
    },
    {},
    { cwd: work }
  )
  expect(pushed.errors).toEqual([])
  expect(pushed.stdout).not.toContain('::warning')
  expect(pushed.code).toBe(0)
  const { digest } = pushed.outputs
  expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/)
  expect(pushed.outputs).toMatchObject({
    reference: `${reg.host}/rel/bundle@${digest}`,
    tags: `${reg.host}/rel/bundle:v1`,
    'media-type': 'application/vnd.oci.image.manifest.v1+json'
  })
  expect(await remoteDigest(`${reg.host}/rel/bundle:v1`)).toBe(digest)
  const manifest = JSON.parse(
    await (
      await fetch(`http://${reg.host}/v2/rel/bundle/manifests/v1`, {
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' }
      })
    ).text()
  ) as { artifactType: string; layers: { mediaType: string }[] }
  expect(manifest.artifactType).toBe('application/vnd.example.bundle')
  expect(manifest.layers[0].mediaType).toBe('text/plain')

  // Pulled into a directory from the registry.
  const out = path.join(await tmpDir('files-out-'), 'out')
  const pulled = await runAction({
    direction: 'pull',
    reference: `${reg.host}/rel/bundle:v1`,
    files: out
  })
  expect(pulled.errors).toEqual([])
  expect(pulled.code).toBe(0)
  expect(pulled.outputs.digest).toBe(digest)
  const expected = {
    'notes.txt': 'release notes\n',
    'chart/Chart.yaml': 'name: app\n',
    'chart/templates/svc.yaml': 'kind: Service\n'
  }
  expect(await tree(out)).toEqual(expected)

  // And from a local layout that holds it, named by the layout input.
  const layout = path.join(await tmpDir('files-layout-'), 'bundle.tar')
  const copied = await runCli(['cp', `${reg.host}/rel/bundle:v1`, '--to-oci-layout', layout])
  expect(copied.code).toBe(0)
  const out2 = path.join(await tmpDir('files-out-'), 'out')
  const local = await runAction({ direction: 'pull', layout: `${layout}:v1`, files: out2 })
  expect(local.errors).toEqual([])
  expect(local.outputs.digest).toBe(digest)
  expect(await tree(out2)).toEqual(expected)
})

it('attaches files to an image as a referrer (subject)', async () => {
  const base = await runAction({ layout: `${BUILDX}:v1`, reference: `${reg.host}/rel/app:v1` })
  expect(base.code).toBe(0)
  const attached = await runAction(
    {
      reference: `${reg.host}/rel/app`,
      files: 'notes.txt',
      subject: 'v1',
      'artifact-type': 'application/vnd.example.notes'
    },
    {},
    { cwd: work }
  )
  expect(attached.errors).toEqual([])
  expect(attached.code).toBe(0)
  const digest = attached.outputs.digest
  expect(attached.outputs.tags).toBe('')
  expect(await remoteDigest(`${reg.host}/rel/app@${digest}`)).toBe(digest)
  // Findable from the image: distribution keeps no referrers API, so the fallback tag lists it.
  const fallback = `sha256-${BUILDX_DIGEST.slice(7)}`
  const index = (await (
    await fetch(`http://${reg.host}/v2/rel/app/manifests/${fallback}`, {
      headers: { Accept: 'application/vnd.oci.image.index.v1+json' }
    })
  ).json()) as { manifests: { digest: string; artifactType?: string }[] }
  expect(index.manifests).toContainEqual(
    expect.objectContaining({ digest, artifactType: 'application/vnd.example.notes' })
  )
})

it('a pull with more than one line of files fails clearly, naming the fix', async () => {
  const run = await runAction({
    direction: 'pull',
    reference: `${reg.host}/rel/bundle:v1`,
    files: 'a\nb'
  })
  expect(run.code).toBe(1)
  expect(run.errors).toEqual([
    expect.stringMatching(/files names 2 lines; on a pull it is one directory/)
  ])
})
