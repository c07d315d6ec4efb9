// The bundled action, run as the runner runs it.
import { runAction } from '../helpers/action.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest } from '../helpers/skopeo.js'
import { BUILDX, BUILDX_DIGEST } from '../helpers/corpus.js'

describe('the bundled action (node index.js)', () => {
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry({ users: { ci: 'pa55word' } })
  })
  afterAll(async () => {
    await reg.stop()
  })

  it('pushes and writes the outputs', async () => {
    const run = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'org/app:v1',
      username: 'ci',
      password: 'pa55word'
    })
    expect(run.stdout).not.toMatch(/::error/)
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({
      digest: BUILDX_DIGEST,
      reference: `${reg.host}/org/app@${BUILDX_DIGEST}`,
      'media-type': 'application/vnd.oci.image.index.v1+json',
      size: '1245'
    })
    expect(run.stdout).toContain('::group::')
    expect(run.stdout).toMatch(new RegExp(`Pushed ${reg.host}/org/app:v1 \\(${BUILDX_DIGEST}\\)`))
    expect(await remoteDigest(`${reg.host}/org/app:v1`, 'ci:pa55word')).toBe(BUILDX_DIGEST)
  })

  it('fails with one error line, no stack trace and no secret', async () => {
    const run = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'org/app:v1',
      username: 'ci',
      password: 'not-the-password'
    })
    expect(run.code).toBe(1)
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error'))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/rejected the credentials of user "ci"/)
    // The runner swallows ::add-mask:: commands; everything else it prints.
    const printed = (run.stdout + run.stderr)
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n')
    expect(printed).not.toContain('not-the-password')
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /)
    expect(run.outputs).toEqual({})
  })

  it('reports a bad input by name', async () => {
    const run = await runAction({
      layout: `${BUILDX}:v1`,
      registry: reg.host,
      reference: 'org/app:v1',
      'plain-http': 'maybe'
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/::error title=Push failed::plain-http must be auto, true or false/)
  })

  it('names an unreachable registry and what to check', async () => {
    const run = await runAction({
      layout: `${BUILDX}:v1`,
      registry: '127.0.0.1:1',
      reference: 'org/app:v1'
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(
      /::error title=Push failed::cannot reach registry 127\.0\.0\.1:1: connection refused/
    )
  })
})
