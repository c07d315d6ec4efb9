// Every registry persona (the tests' proxy in front of the real registry, answering as GHCR, ECR,
// Docker Hub, GAR, ACR, Quay, Harbor, GitLab, Artifactory, Nexus or a 100 MB CDN limit does), with
// default inputs: a multi-platform buildx layout with attestations pushed and pulled, referrers
// carried, digests checked on the registry itself. docs/registries.md lists each behaviour.
import { createHash } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pull } from '../../src/transfer/pull.js'
import type { Descriptor } from '../../src/oci/types.js'
import { push } from '../../src/transfer/push.js'
import { RegistryRepository } from '../../src/registry/repository.js'
import { openClient } from '../../src/transfer/clients.js'
import { runAction } from '../helpers/action.js'
import { imageWithArtifacts } from '../helpers/layouts.js'
import { repeatedAfter4xx } from '../helpers/exchanges.js'
import {
  ECR_MISSING_PREFIX,
  PERSONAS,
  startPersona,
  type Persona,
  type PersonaName
} from '../helpers/personas.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { remoteDigest, tmpDir } from '../helpers/skopeo.js'
import { startTokenServer } from '../helpers/token-server.js'
import { checkLayout } from '../helpers/verify.js'
import { generateLayout } from '../helpers/generate.js'

const USER = 'ci'
const PASS = 'persona-secret'
const CREDS = `${USER}:${PASS}`

/** Quirks each persona must have applied in the push and pull of the multi-platform layout. */
const MET_BY_IMAGE: Record<PersonaName, string[]> = {
  ghcr: ['relative-location'],
  ecr: ['no-digest-header', 'signed-redirect'],
  dockerhub: ['rate-limit-headers'],
  gar: ['signed-redirect'],
  acr: ['path-and-query-location', 'signed-redirect'],
  quay: [],
  harbor: [],
  gitlab: [],
  artifactory: ['head-403', 'head-lies', 'manifest-blob-unknown'],
  nexus: ['no-digest-header'],
  // Met by the re-push: the HEAD of a manifest the registry has (a pull resolves by GET).
  cdn100mb: ['head-length-0']
}
/** Quirks met when referrers travel. */
const MET_BY_REFERRERS: Partial<Record<PersonaName, string[]>> = {
  ghcr: ['no-referrers-api'],
  ecr: ['referrers-405'],
  dockerhub: ['no-referrers-api'],
  harbor: ['referrers-api']
}

describe.each(PERSONAS)('registry persona %s, default inputs', (name) => {
  let reg: TestRegistry
  let persona: Persona
  let work: string
  let multi: { path: string; digest: string }
  const auth = { username: USER, password: PASS }

  beforeAll(async () => {
    reg = await startRegistry({ users: { [USER]: PASS } })
    persona = await startPersona(name, reg.host, CREDS)
    work = await tmpDir(`persona-${name}-`)
    multi = await generateLayout({
      out: path.join(work, 'multi.tar'),
      format: 'tar',
      platforms: ['linux/amd64', 'linux/arm64'],
      // One layer above the size asked about on push, so HEAD quirks are met.
      layers: [70_000, 700_000],
      sharedBase: true,
      attestations: true,
      tags: ['v1'],
      seed: 7
    })
  }, 60_000)
  afterAll(async () => {
    await persona?.stop()
    await reg?.stop()
    if (work) await rm(work, { recursive: true, force: true })
  })

  it('pushes and pulls a multi-platform layout with attestations, byte for byte', async () => {
    let mark = persona.log.all.length
    const pushed = await push({
      ...auth,
      layout: `${multi.path}:v1`,
      registry: persona.host,
      reference: `${name}/multi:v1`
    })
    expect(pushed.digest).toBe(multi.digest)
    // Checked on the registry, not through the persona.
    expect(await remoteDigest(`${reg.host}/${name}/multi:v1`, CREDS)).toBe(multi.digest)
    expect(repeatedAfter4xx(persona.log.since(mark))).toEqual([])

    mark = persona.log.all.length
    const dir = path.join(work, 'pulled')
    const pulled = await pull({
      ...auth,
      layout: dir,
      registry: persona.host,
      reference: `${name}/multi:v1`
    })
    expect(pulled.digest).toBe(multi.digest)
    expect(pulled.platforms.sort()).toEqual(['linux/amd64', 'linux/arm64'])
    // 2 platform manifests, 2 attestations, their configs and layers, the index.
    expect((await checkLayout(dir)).blobs).toBeGreaterThanOrEqual(9)

    expect(repeatedAfter4xx(persona.log.since(mark))).toEqual([])
    // A re-push finds the image there: no bytes sent, nothing refused sent again.
    mark = persona.log.all.length
    const again = await push({
      ...auth,
      layout: `${multi.path}:v1`,
      registry: persona.host,
      reference: `${name}/multi:v1`
    })
    expect(again.digest).toBe(multi.digest)
    expect(again.bytesSent).toBe(0)
    expect(repeatedAfter4xx(persona.log.since(mark))).toEqual([])
    for (const quirk of MET_BY_IMAGE[name]) expect(persona.counts[quirk]).toBeGreaterThan(0)
    // A manifest refused for blobs the registry claimed is sent once more, and only once.
    const manifestPuts = new Map<string, number>()
    for (const e of persona.log.all)
      if (e.method === 'PUT' && e.path.includes('/manifests/'))
        manifestPuts.set(e.path, (manifestPuts.get(e.path) ?? 0) + 1)
    expect(Math.max(...manifestPuts.values())).toBeLessThanOrEqual(2)
  })

  it('carries referrers both ways', async () => {
    const { dir, artifacts } = await imageWithArtifacts(['sbom', 'signature'])
    try {
      let mark = persona.log.all.length
      const pushed = await push({
        ...auth,
        layout: `${dir}:v1`,
        registry: persona.host,
        reference: `${name}/with-refs:v1`,
        referrers: true
      })
      expect(pushed.referrers.map((d) => d.digest).sort()).toEqual(
        artifacts.map((a) => a.digest).sort()
      )
      expect(repeatedAfter4xx(persona.log.since(mark))).toEqual([])
      mark = persona.log.all.length
      const out = path.join(work, 'pulled-refs')
      const pulled = await pull({
        ...auth,
        layout: out,
        registry: persona.host,
        reference: `${name}/with-refs:v1`,
        referrers: true
      })
      expect(pulled.referrers.map((d) => d.digest).sort()).toEqual(
        artifacts.map((a) => a.digest).sort()
      )
      for (const quirk of MET_BY_REFERRERS[name] ?? [])
        expect(persona.counts[quirk]).toBeGreaterThan(0)
      // GitLab refuses a referrer before its subject: ours always goes after.
      expect(persona.counts['subject-missing']).toBeUndefined()
      expect(repeatedAfter4xx(persona.log.since(mark))).toEqual([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('registry specifics', () => {
  let reg: TestRegistry
  let work: string
  let image: { path: string; digest: string }
  beforeAll(async () => {
    reg = await startRegistry()
    work = await tmpDir('persona-specifics-')
    image = await generateLayout({
      out: path.join(work, 'one.tar'),
      format: 'tar',
      layers: [4096],
      tags: ['v1'],
      seed: 3
    })
  })
  afterAll(async () => {
    await reg.stop()
    await rm(work, { recursive: true, force: true })
  })

  it('ECR: a repository that does not exist is named, with the fix', async () => {
    const ecr = await startPersona('ecr', reg.host)
    try {
      const err = await push({
        layout: `${image.path}:v1`,
        registry: ecr.host,
        reference: `${ECR_MISSING_PREFIX}app:v1`
      }).then(
        (): Error & { hint?: string } => new Error('pushed'),
        (e: unknown) => e as Error & { hint?: string }
      )
      expect(err.message).toMatch(
        /NAME_UNKNOWN: The repository with name 'not-created\/app' does not exist/
      )
      expect(err.hint).toMatch(/create it first \(on ECR: aws ecr create-repository/)
      expect(ecr.counts['repository-not-found']).toBeGreaterThan(0)

      expect(repeatedAfter4xx(ecr.log.all)).toEqual([])
    } finally {
      await ecr.stop()
    }
  })

  it('ECR: after one refused upload, later blobs of that repository are not tried', async () => {
    const ecr = await startPersona('ecr', reg.host)
    const client = await openClient({ reference: 'x' }, ecr.host)
    try {
      const repo = new RegistryRepository(client, `${ECR_MISSING_PREFIX}app`, { push: true })
      const blob = (text: string): { desc: Descriptor; bytes: Buffer } => {
        const bytes = Buffer.from(text)
        const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
        return {
          desc: { mediaType: 'application/octet-stream', digest, size: bytes.length },
          bytes
        }
      }
      const first = blob('first')
      const second = blob('second')
      await expect(repo.push(first.desc, first.bytes)).rejects.toThrow(/NAME_UNKNOWN/)
      const posts = ecr.log.all.filter((e) => e.method === 'POST').length
      await expect(repo.push(second.desc, second.bytes)).rejects.toThrow(/NAME_UNKNOWN/)
      expect(ecr.log.all.filter((e) => e.method === 'POST').length).toBe(posts)
    } finally {
      client.close()
      await ecr.stop()
    }
  })

  it('Docker Hub: token service on another origin; pulls left in the log and the job summary', async () => {
    // Docker Hub's realm is auth.docker.io, not the registry's host: the token server's own port.
    const ts = await startTokenServer({
      users: { hubuser: { password: PASS, access: { '*': ['pull', 'push'] } } }
    })
    const tokenReg = await startRegistry({
      token: {
        realm: ts.realm,
        service: ts.service,
        issuer: ts.issuer,
        rootCertBundle: ts.certFile
      }
    })
    const hub = await startPersona('dockerhub', tokenReg.host)
    try {
      const hubAuth = { username: 'hubuser', password: PASS }
      await push({
        ...hubAuth,
        layout: `${image.path}:v1`,
        registry: hub.host,
        reference: 'hub/app:v1'
      })
      expect(new URL(ts.realm).host).not.toBe(hub.host)
      expect(ts.log.length).toBeGreaterThan(0)
      const summary = path.join(work, 'summary.md')
      // The runner creates the summary file; @actions/core appends to it.
      await writeFile(summary, '')
      const run = await runAction(
        {
          direction: 'pull',
          layout: path.join(work, 'hub-pull'),
          registry: hub.host,
          reference: 'hub/app:v1',
          username: hubAuth.username,
          password: hubAuth.password
        },
        { GITHUB_STEP_SUMMARY: summary }
      )
      expect(run.code).toBe(0)
      expect(run.stdout).toMatch(
        new RegExp(`${hub.host} rate limit: \\d+ of 200 pulls left in 21600 s`)
      )
      expect(await readFile(summary, 'utf8')).toMatch(/\| rate limit \| .* pulls left/)
      // The runner consumes ::add-mask:: lines and shows *** for what they name.
      const shown = (run.stdout + run.stderr)
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
      expect(shown.join('\n')).not.toContain(PASS)
    } finally {
      await hub.stop()
      await tokenReg.stop()
      await ts.stop()
    }
  })
})
