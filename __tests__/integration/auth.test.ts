// Authentication against real registries: htpasswd is covered in push.test.ts; here token auth
// with a token server written in the tests, credential sources, TLS, and secrecy of it all.
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pull } from '../../src/transfer/pull.js'
import { push } from '../../src/transfer/push.js'
import { findCredentials } from '../../src/registry/credentials.js'
import { runAction } from '../helpers/action.js'
import { startProxy } from '../helpers/proxy.js'
import { startRegistry, type TestRegistry } from '../helpers/registry.js'
import { tmpDir } from '../helpers/skopeo.js'
import { makeTestCa, type TestCa } from '../helpers/tls.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { BUILDX as BUILDX_TAR, BUILDX_DIGEST } from '../helpers/corpus.js'

const BUILDX = `${BUILDX_TAR}:v1`
const SECRETS = ['alice-password-1', 'bob-password-2', 'refresh-token-abc123']
const b64 = (s: string): string => Buffer.from(s).toString('base64')
/** Everything the tests saw printed or thrown, checked for secrets at the end. */
const printed: string[] = []
const record = (err: unknown): unknown => {
  printed.push(String(err), (err as { hint?: string }).hint ?? '')
  return err
}

async function tokenRegistry(
  opts: Parameters<typeof startTokenServer>[0]
): Promise<{ reg: TestRegistry; ts: TokenServer }> {
  const ts = await startTokenServer(opts)
  const reg = await startRegistry({
    token: { realm: ts.realm, service: ts.service, issuer: ts.issuer, rootCertBundle: ts.certFile }
  })
  return { reg, ts }
}

const USERS = {
  alice: { password: SECRETS[0], access: { '*': ['pull', 'push'] } },
  bob: { password: SECRETS[1], access: { '*': ['pull'] } }
}

describe('token auth (Bearer)', () => {
  let reg: TestRegistry
  let ts: TokenServer
  beforeAll(async () => {
    ;({ reg, ts } = await tokenRegistry({
      users: USERS,
      anonymous: { 'public/app': ['pull'] },
      refreshTokens: { [SECRETS[2]]: 'alice' }
    }))
    await push({
      layout: BUILDX,
      registry: reg.host,
      reference: 'public/app:v1',
      credentials: { username: 'alice', password: SECRETS[0] }
    })
  })
  afterAll(async () => {
    await reg.stop()
    await ts.stop()
  })

  it('pushes and pulls with credentials, one token per scope', async () => {
    const r = await push({
      layout: BUILDX,
      registry: reg.host,
      reference: 'org/app:v1',
      credentials: { username: 'alice', password: SECRETS[0] }
    })
    expect(r.digest).toBe(BUILDX_DIGEST)
    const dir = await tmpDir('token-pull-')
    const p = await pull({
      registry: reg.host,
      reference: 'org/app:v1',
      layout: dir,
      credentials: { username: 'alice', password: SECRETS[0] }
    })
    expect(p.digest).toBe(BUILDX_DIGEST)
    const asked = ts.log.filter(
      (l) => l.user === 'alice' && l.scopes.includes('repository:org/app:pull,push')
    )
    expect(asked).toHaveLength(1) // cached for the whole push
  })

  it('pulls anonymously where anonymous pull is allowed', async () => {
    const dir = await tmpDir('anon-pull-')
    const p = await pull({ registry: reg.host, reference: 'public/app:v1', layout: dir, env: {} })
    expect(p.digest).toBe(BUILDX_DIGEST)
  })

  it('refuses an anonymous push clearly', async () => {
    const err = record(
      await push({ layout: BUILDX, registry: reg.host, reference: 'public/app:v2', env: {} }).catch(
        (e: unknown) => e
      )
    )
    expect(String(err)).toMatch(
      /registry 127\.0\.0\.1:\d+: anonymous access may not push to public\/app \(insufficient_scope\)/
    )
    expect((err as { hint: string }).hint).toMatch(/set the username and password inputs/)
  })

  it('names the user whose password the token service rejected', async () => {
    const err = record(
      await push({
        layout: BUILDX,
        registry: reg.host,
        reference: 'org/app:v1',
        credentials: { username: 'alice', password: 'nope-wrong' }
      }).catch((e: unknown) => e)
    )
    expect(String(err)).toMatch(
      /rejected the credentials of user "alice" \(invalid username or password\)/
    )
  })

  it('says when a user may not push', async () => {
    const err = record(
      await push({
        layout: BUILDX,
        registry: reg.host,
        reference: 'org/other:v1',
        credentials: { username: 'bob', password: SECRETS[1] }
      }).catch((e: unknown) => e)
    )
    expect(String(err)).toMatch(
      /registry 127\.0\.0\.1:\d+: user "bob" may not push to org\/other \(insufficient_scope\)/
    )
    expect((err as { hint: string }).hint).toMatch(/grant the user that permission/)
  })

  it('trades an identity token by the refresh-token POST (docker config identitytoken)', async () => {
    const home = await tmpDir('home-')
    await mkdir(path.join(home, '.docker'))
    await writeFile(
      path.join(home, '.docker/config.json'),
      JSON.stringify({ auths: { [reg.host]: { identitytoken: SECRETS[2] } } })
    )
    const before = ts.log.length
    const r = await push({
      layout: BUILDX,
      registry: reg.host,
      reference: 'org/idtoken:v1',
      env: { HOME: home }
    })
    expect(r.digest).toBe(BUILDX_DIGEST)
    expect(
      ts.log
        .slice(before)
        .some((l) => l.method === 'POST' && l.user === 'alice' && l.status === 200)
    ).toBe(true)
  })
})

describe('token auth: other shapes', () => {
  it('falls back to GET when the token service answers the POST with 404', async () => {
    const { reg, ts } = await tokenRegistry({
      users: USERS,
      refreshTokens: { [SECRETS[2]]: 'alice' },
      noPost: true
    })
    try {
      const r = await push({
        layout: BUILDX,
        registry: reg.host,
        reference: 'org/nopost:v1',
        credentials: { identityToken: SECRETS[2] }
      })
      expect(r.digest).toBe(BUILDX_DIGEST)
      expect(ts.log.some((l) => l.method === 'POST' && l.status === 404)).toBe(true)
      expect(ts.log.some((l) => l.method === 'GET' && l.user === 'alice' && l.status === 200)).toBe(
        true
      )
    } finally {
      await reg.stop()
      await ts.stop()
    }
  })

  it('fetches a new token when one expires mid-run (slow uploads, 2 s tokens announced as 300 s)', async () => {
    const { reg, ts } = await tokenRegistry({ users: USERS, lifetime: 2, announcedLifetime: 300 })
    // Throttle: every blob upload's answer is held back, so the run outlives its first token.
    const proxy = await startProxy(reg.host, async (req, res, p) => {
      if (req.method !== 'PUT' || !req.url?.includes('/blobs/uploads/')) return false
      await new Promise((r) => setTimeout(r, 700))
      p.forward(req, res)
      return true
    })
    try {
      const r = await push({
        layout: BUILDX,
        registry: proxy.host,
        reference: 'org/slow:v1',
        credentials: { username: 'alice', password: SECRETS[0] },
        concurrency: 1
      })
      expect(r.digest).toBe(BUILDX_DIGEST)
      const tokens = ts.log.filter((l) => l.user === 'alice' && l.status === 200)
      expect(tokens.length).toBeGreaterThan(1)
      expect(proxy.log.filter((l) => l.authorization?.startsWith('Bearer')).length).toBeGreaterThan(
        0
      )
    } finally {
      await proxy.stop()
      await reg.stop()
      await ts.stop()
    }
  }, 60_000)
})

describe('credential sources', () => {
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry({ users: { carol: 'carol-pass-3' } })
  })
  afterAll(async () => {
    await reg.stop()
  })
  const carol = { username: 'carol', password: 'carol-pass-3' }

  it('reads docker config.json as docker/login-action writes it, via DOCKER_CONFIG and via HOME', async () => {
    const cfg = await tmpDir('docker-config-')
    await writeFile(
      path.join(cfg, 'config.json'),
      JSON.stringify({
        auths: { [reg.host]: { auth: b64(`${carol.username}:${carol.password}`) } }
      })
    )
    expect(
      (
        await push({
          layout: BUILDX,
          registry: reg.host,
          reference: 'src/docker-config:v1',
          env: { DOCKER_CONFIG: cfg }
        })
      ).digest
    ).toBe(BUILDX_DIGEST)
    const home = await tmpDir('home-')
    await mkdir(path.join(home, '.docker'))
    await writeFile(
      path.join(home, '.docker/config.json'),
      JSON.stringify({
        auths: {
          [`https://${reg.host}/v1/`]: { username: carol.username, password: carol.password }
        }
      })
    )
    expect(
      (
        await push({
          layout: BUILDX,
          registry: reg.host,
          reference: 'src/home:v1',
          env: { HOME: home }
        })
      ).digest
    ).toBe(BUILDX_DIGEST)
  })

  it('runs a docker-credential helper from PATH (credHelpers and credsStore)', async () => {
    const bin = await tmpDir('helper-bin-')
    const helper = path.join(bin, 'docker-credential-test')
    await writeFile(
      helper,
      `#!/bin/sh\nread host\nif [ "$host" = "${reg.host}" ]; then echo '{"ServerURL":"'$host'","Username":"carol","Secret":"carol-pass-3"}'; else echo "credentials not found in native keychain"; exit 1; fi\n`
    )
    await chmod(helper, 0o755)
    for (const config of [{ credHelpers: { [reg.host]: 'test' } }, { credsStore: 'test' }]) {
      const cfg = await tmpDir('docker-config-')
      await writeFile(path.join(cfg, 'config.json'), JSON.stringify(config))
      const env = { DOCKER_CONFIG: cfg, PATH: `${bin}:${process.env.PATH ?? ''}` }
      expect(
        (await push({ layout: BUILDX, registry: reg.host, reference: 'src/helper:v1', env })).digest
      ).toBe(BUILDX_DIGEST)
    }
    // A host the helper does not know: anonymous, so the registry's refusal is what the user sees.
    const cfg = await tmpDir('docker-config-')
    await writeFile(path.join(cfg, 'config.json'), JSON.stringify({ credsStore: 'test' }))
    expect(
      await findCredentials({
        registry: 'other.example',
        env: { DOCKER_CONFIG: cfg, PATH: `${bin}:${process.env.PATH ?? ''}` }
      })
    ).toBeUndefined()
    expect(
      String(
        record(
          await findCredentials({
            registry: reg.host,
            env: { DOCKER_CONFIG: cfg, PATH: '/nonexistent' }
          }).catch((e: unknown) => e)
        )
      )
    ).toMatch(/docker-credential-test is not on PATH/)
  })

  it('reads podman auth.json (REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR)', async () => {
    const dir = await tmpDir('podman-')
    await mkdir(path.join(dir, 'containers'))
    await writeFile(
      path.join(dir, 'containers/auth.json'),
      JSON.stringify({ auths: { [reg.host]: { auth: b64('carol:carol-pass-3') } } })
    )
    expect(
      (
        await push({
          layout: BUILDX,
          registry: reg.host,
          reference: 'src/podman:v1',
          env: { REGISTRY_AUTH_FILE: path.join(dir, 'containers/auth.json') }
        })
      ).digest
    ).toBe(BUILDX_DIGEST)
    expect(
      (
        await push({
          layout: BUILDX,
          registry: reg.host,
          reference: 'src/podman:v2',
          env: { XDG_RUNTIME_DIR: dir }
        })
      ).digest
    ).toBe(BUILDX_DIGEST)
  })

  it('prefers the inputs, and uses github-token only for ghcr.io', async () => {
    const cfg = await tmpDir('docker-config-')
    await writeFile(
      path.join(cfg, 'config.json'),
      JSON.stringify({ auths: { 'ghcr.io': { auth: b64('someone:else') } } })
    )
    expect(
      (
        await findCredentials({
          registry: 'ghcr.io',
          username: 'u',
          password: 'p',
          env: { DOCKER_CONFIG: cfg }
        })
      )?.source
    ).toBe('the username and password inputs')
    expect(
      (
        await findCredentials({
          registry: 'ghcr.io',
          env: { DOCKER_CONFIG: cfg },
          githubToken: 't'
        })
      )?.source
    ).toBe(path.join(cfg, 'config.json'))
    expect(
      await findCredentials({
        registry: 'ghcr.io',
        env: {},
        githubToken: 'ghs_x',
        githubActor: 'octocat'
      })
    ).toEqual({
      credentials: { username: 'octocat', password: 'ghs_x' },
      source: 'the github-token input'
    })
    expect(
      await findCredentials({ registry: 'quay.io', env: {}, githubToken: 'ghs_x' })
    ).toBeUndefined()
    // Docker Hub's config key.
    await writeFile(
      path.join(cfg, 'config.json'),
      JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') } } })
    )
    expect(
      (await findCredentials({ registry: 'docker.io', env: { DOCKER_CONFIG: cfg } }))?.credentials
    ).toEqual({ username: 'hubuser', password: 'hubpass' })
  })
})

describe('TLS with a test CA', () => {
  let reg: TestRegistry
  let ca: TestCa
  beforeAll(async () => {
    ca = await makeTestCa()
    reg = await startRegistry({ tls: { certificate: ca.serverCert, key: ca.serverKey } })
  })
  afterAll(async () => {
    await reg.stop()
  })

  it('fails clearly on an unknown CA, naming ca-file', async () => {
    const err = record(
      await push({
        layout: BUILDX,
        registry: reg.host,
        reference: 'tls/app:v1',
        plainHttp: 'false'
      }).catch((e: unknown) => e)
    )
    expect(String(err)).toMatch(
      /cannot reach registry .*: the registry certificate (is signed by an unknown authority|chain has an unknown root)/
    )
    expect((err as { hint: string }).hint).toMatch(/ca-file/)
  })

  it('works with ca-file', async () => {
    expect(
      (
        await push({
          layout: BUILDX,
          registry: reg.host,
          reference: 'tls/app:v1',
          plainHttp: 'false',
          caFile: ca.caCert
        })
      ).digest
    ).toBe(BUILDX_DIGEST)
  })

  it('works with insecure: true, and warns', async () => {
    const notices: string[] = []
    const r = await push({
      layout: BUILDX,
      registry: reg.host,
      reference: 'tls/app:v2',
      plainHttp: 'false',
      insecure: true,
      onNotice: (l) => notices.push(l)
    })
    expect(r.digest).toBe(BUILDX_DIGEST)
    expect(notices.join('\n')).toMatch(/TLS verification is off/)
  })

  it('the action warns about insecure as a runner annotation', async () => {
    const run = await runAction({
      layout: BUILDX,
      registry: reg.host,
      reference: 'tls/app:v3',
      'plain-http': 'false',
      insecure: 'true'
    })
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/::warning::TLS verification is off/)
  })
})

describe('secrets never printed', () => {
  it('no password, base64 credential or token appears in any output of the auth runs', async () => {
    const { reg, ts } = await tokenRegistry({
      users: USERS,
      refreshTokens: { [SECRETS[2]]: 'alice' }
    })
    try {
      const runs = [
        await runAction(
          {
            layout: BUILDX,
            registry: reg.host,
            reference: 'org/app:v1',
            username: 'alice',
            password: SECRETS[0]
          },
          { RUNNER_DEBUG: '1' }
        ),
        await runAction(
          {
            layout: BUILDX,
            registry: reg.host,
            reference: 'org/app:v1',
            username: 'alice',
            password: 'wrong-pass-9'
          },
          { RUNNER_DEBUG: '1' }
        ),
        await runAction(
          {
            layout: BUILDX,
            registry: reg.host,
            reference: 'org/app:v9',
            username: 'bob',
            password: SECRETS[1]
          },
          { RUNNER_DEBUG: '1' }
        ),
        await runAction(
          {
            direction: 'pull',
            layout: await tmpDir('secret-pull-'),
            registry: reg.host,
            reference: 'org/app:v1',
            username: 'alice',
            password: SECRETS[0]
          },
          { RUNNER_DEBUG: '1' }
        )
      ]
      expect(runs.map((r) => r.code)).toEqual([0, 1, 1, 0])
      expect(runs[0].stdout).toMatch(
        /::debug::PUT http:\/\/127\.0\.0\.1:\d+\/v2\/org\/app\/manifests\/v1 201/
      )
      const all = [...runs.flatMap((r) => [r.stdout, r.stderr]), ...printed]
        .join('\n')
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n')
      const forbidden = [
        ...SECRETS,
        'wrong-pass-9',
        ...Object.entries(USERS).map(([u, v]) => b64(`${u}:${v.password}`)),
        b64('alice:wrong-pass-9'),
        ...ts.issued
      ]
      expect(ts.issued.length).toBeGreaterThan(0)
      for (const secret of forbidden) expect(all).not.toContain(secret)
      // And every token and password was masked before anything else was printed.
      const masks = runs[0].stdout.split('\n').filter((l) => l.startsWith('::add-mask::'))
      expect(masks).toContain(`::add-mask::${SECRETS[0]}`)
      expect(masks.some((m) => ts.issued.includes(m.slice('::add-mask::'.length)))).toBe(true)
    } finally {
      await reg.stop()
      await ts.stop()
    }
  }, 60_000)
})
