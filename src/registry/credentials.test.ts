// Where credentials come from, and what is masked, in-process (mutation testing sees these): the
// inputs, docker's config.json with its credential helpers, podman's auth files, the workflow
// token; the near-miss hint; the WWW-Authenticate parser.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { AuthError } from '../errors/errors.js'
import { parseChallenge } from './challenge.js'
import { findCredentials, nearMissCredentials } from './credentials.js'
import { tmpDir } from '../../__tests__/helpers/skopeo.js'

const b64 = (s: string): string => Buffer.from(s).toString('base64')

interface Home {
  env: NodeJS.ProcessEnv
  dir: string
  /** docker's config.json */
  docker: (config: object | string) => Promise<void>
  /** a file, for REGISTRY_AUTH_FILE or XDG_RUNTIME_DIR/containers/auth.json */
  file: (name: string, config: object | string) => Promise<string>
  /** a `docker-credential-NAME` on PATH running `script`; it writes its stdin to NAME.stdin */
  helper: (name: string, script: string) => Promise<void>
  stdin: (name: string) => Promise<string>
}

async function home(): Promise<Home> {
  const dir = await tmpDir('creds-')
  const bin = path.join(dir, 'bin')
  await mkdir(path.join(dir, '.docker'), { recursive: true })
  await mkdir(bin)
  const write = async (file: string, config: object | string): Promise<void> =>
    writeFile(file, typeof config === 'string' ? config : JSON.stringify(config))
  return {
    dir,
    env: { HOME: dir, PATH: `${bin}:/usr/bin:/bin` },
    docker: (config) => write(path.join(dir, '.docker', 'config.json'), config),
    file: async (name, config) => {
      const file = path.join(dir, name)
      await mkdir(path.dirname(file), { recursive: true })
      await write(file, config)
      return file
    },
    helper: async (name, script) => {
      const file = path.join(bin, `docker-credential-${name}`)
      // Docker's protocol: the action is the one argument.
      await writeFile(
        file,
        `#!/bin/sh\n[ "$*" = get ] || exit 9\ncat > "${dir}/${name}.stdin"\n${script}\n`
      )
      await chmod(file, 0o755)
    },
    stdin: (name) => readFile(path.join(dir, `${name}.stdin`), 'utf8')
  }
}

describe('findCredentials', () => {
  it('takes the inputs first, only when both are given, and masks the password and its base64', async () => {
    const h = await home()
    await h.docker({ auths: { 'r.example': { auth: b64('cfg:pw') } } })
    const masked: string[] = []
    const onSecret = (s: string): number => masked.push(s)
    const both = await findCredentials({
      registry: 'r.example',
      username: 'u',
      password: 'p',
      env: h.env,
      onSecret
    })
    expect(both).toEqual({
      credentials: { username: 'u', password: 'p' },
      source: 'the username and password inputs'
    })
    expect(masked).toEqual(['p', b64('u:p')])
    // A username without a password is not a credential: the config file answers.
    const half = await findCredentials({ registry: 'r.example', username: 'u', env: h.env })
    expect(half?.source).toBe(path.join(h.dir, '.docker', 'config.json'))
    expect(half?.credentials).toEqual({ username: 'cfg', password: 'pw' })
  })

  it('reads config.json entries: auth, username and password, identitytoken; keys with a scheme and path', async () => {
    const h = await home()
    await h.docker({
      auths: {
        'https://A.example/v1/': { auth: b64('a:p:with:colons') },
        'http://b.example': { username: 'b', password: 'bp' },
        'c.example': { identitytoken: 'tok', username: '00000000' },
        'd.example': { username: 'only-user', auth: b64('d:dp') },
        'e.example': {}
      }
    })
    const of = async (registry: string): Promise<unknown> =>
      (await findCredentials({ registry, env: h.env }))?.credentials
    expect(await of('a.example')).toEqual({ username: 'a', password: 'p:with:colons' })
    expect(await of('b.example')).toEqual({ username: 'b', password: 'bp' })
    expect(await of('c.example')).toEqual({ identityToken: 'tok', username: '00000000' })
    expect(await of('d.example')).toEqual({ username: 'd', password: 'dp' })
    expect(await of('e.example')).toBeUndefined()
    expect(await of('a.example.org')).toBeUndefined()
    const masked: string[] = []
    await findCredentials({ registry: 'c.example', env: h.env, onSecret: (s) => masked.push(s) })
    expect(masked).toEqual(['tok'])
  })

  it('treats the Docker Hub names as one registry, and no other host as Docker Hub', async () => {
    const h = await home()
    await h.docker({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } })
    for (const registry of ['docker.io', 'registry-1.docker.io', 'index.docker.io'])
      expect((await findCredentials({ registry, env: h.env }))?.credentials).toEqual({
        username: 'hub',
        password: 'pw'
      })
    expect(await findCredentials({ registry: 'ghcr.io', env: h.env })).toBeUndefined()
    await h.docker({ auths: { 'ghcr.io': { auth: b64('gh:pw') } } })
    expect(await findCredentials({ registry: 'docker.io', env: h.env })).toBeUndefined()
  })

  it('refuses an auth value that is not user:password, and a config that is not JSON', async () => {
    const h = await home()
    for (const auth of [b64('nocolon'), b64(':nouser')]) {
      await h.docker({ auths: { 'r.example': { auth } } })
      const err = await findCredentials({ registry: 'r.example', env: h.env }).catch((e) => e)
      expect(err).toBeInstanceOf(AuthError)
      expect(String(err)).toContain('config.json: the "auth" value is not base64 of user:password')
    }
    await h.docker('{ not json')
    const err = await findCredentials({ registry: 'r.example', env: h.env }).catch((e) => e)
    expect(err).toBeInstanceOf(AuthError)
    expect(err).toMatchObject({
      message: expect.stringMatching(/config\.json is not valid JSON$/),
      hint: 'fix or remove it, or pass username and password'
    })
  })

  it('asks a credential helper with the server on stdin, before the auths entry', async () => {
    const h = await home()
    await h.helper('pass', `echo '{"Username":"hu","Secret":"hs"}'`)
    await h.helper('tok', `echo '{"Username":"<token>","Secret":"refresh"}'`)
    await h.docker({
      credHelpers: { 'r.example': 'pass', 'docker.io': 'tok' },
      auths: { 'r.example': { auth: b64('file:pw') } }
    })
    const masked: string[] = []
    const r = await findCredentials({
      registry: 'r.example',
      env: h.env,
      onSecret: (s) => masked.push(s)
    })
    expect(r).toEqual({
      credentials: { username: 'hu', password: 'hs' },
      source: 'docker-credential-pass'
    })
    expect(masked).toEqual(['hs', b64('hu:hs')])
    expect(await h.stdin('pass')).toBe('r.example')
    const hub = await findCredentials({ registry: 'docker.io', env: h.env })
    expect(hub?.credentials).toEqual({ identityToken: 'refresh' })
    expect(await h.stdin('tok')).toBe('https://index.docker.io/v1/')
  })

  it('falls through a helper that has nothing for the host, then asks credsStore last', async () => {
    const h = await home()
    await h.helper('none', `echo 'credentials not found in native keychain' >&2; exit 1`)
    await h.helper('empty', `echo '{"Username":"x"}'`)
    await h.helper('store', `echo '{"Secret":"s"}'`)
    await h.docker({
      credHelpers: { 'a.example': 'none', 'b.example': 'empty' },
      auths: { 'a.example': { auth: b64('file:pw') } },
      credsStore: 'store'
    })
    expect(await findCredentials({ registry: 'a.example', env: h.env })).toMatchObject({
      credentials: { username: 'file', password: 'pw' }
    })
    expect(await findCredentials({ registry: 'b.example', env: h.env })).toEqual({
      credentials: { username: '', password: 's' },
      source: 'docker-credential-store'
    })
    // A store with nothing for the host: podman's file answers.
    await h.helper('store', `echo 'credentials not found' >&2; exit 1`)
    const authFile = await h.file('auth.json', { auths: { 'b.example': { auth: b64('p:pw') } } })
    expect(
      await findCredentials({
        registry: 'b.example',
        env: { ...h.env, REGISTRY_AUTH_FILE: authFile }
      })
    ).toEqual({ credentials: { username: 'p', password: 'pw' }, source: authFile })
  })

  it('names a helper that fails, is missing, or answers other than JSON', async () => {
    const h = await home()
    await h.helper('broken', `printf '\\n  first line\\nsecond\\n' >&2; exit 3`)
    await h.helper('silent', `exit 3`)
    await h.helper('garbled', `echo 'not json'`)
    const failure = async (helper: string): Promise<unknown> => {
      await h.docker({ credHelpers: { 'r.example': helper } })
      return findCredentials({ registry: 'r.example', env: h.env }).catch((e) => e)
    }
    const broken = await failure('broken')
    expect(broken).toBeInstanceOf(AuthError)
    expect(broken).toMatchObject({
      message: 'credential helper docker-credential-broken failed: first line',
      hint: 'install the helper, or pass username and password'
    })
    expect(String(await failure('silent'))).toMatch(
      /credential helper docker-credential-silent failed: Command failed/
    )
    expect(await failure('absent')).toMatchObject({
      message: 'credential helper docker-credential-absent is not on PATH'
    })
    const garbled = await failure('garbled')
    expect(garbled).toBeInstanceOf(AuthError)
    expect(String(garbled)).toContain(
      'credential helper docker-credential-garbled answered something other than JSON'
    )
  })

  it('reads DOCKER_CONFIG, then REGISTRY_AUTH_FILE, then XDG_RUNTIME_DIR/containers/auth.json', async () => {
    const h = await home()
    const dockerDir = path.join(h.dir, 'elsewhere')
    await mkdir(dockerDir)
    await writeFile(
      path.join(dockerDir, 'config.json'),
      JSON.stringify({ auths: { 'd.example': { auth: b64('d:1') } } })
    )
    const authFile = await h.file('auth-file.json', {
      auths: {
        'p.example': { auth: b64('p:2') },
        'd.example': { auth: b64('no:0') },
        'x.example': {}
      }
    })
    const xdg = path.join(h.dir, 'run')
    await h.file('run/containers/auth.json', {
      auths: { 'x.example': { auth: b64('x:3') }, 'p.example': { auth: b64('no:0') } }
    })
    const env = {
      ...h.env,
      DOCKER_CONFIG: dockerDir,
      REGISTRY_AUTH_FILE: authFile,
      XDG_RUNTIME_DIR: xdg
    }
    const of = async (registry: string): Promise<unknown> =>
      findCredentials({ registry, env }).then((r) => r && [r.source, r.credentials])
    expect(await of('d.example')).toEqual([
      path.join(dockerDir, 'config.json'),
      { username: 'd', password: '1' }
    ])
    expect(await of('p.example')).toEqual([authFile, { username: 'p', password: '2' }])
    expect(await of('x.example')).toEqual([
      path.join(xdg, 'containers/auth.json'),
      { username: 'x', password: '3' }
    ])
    expect(await of('none.example')).toBeUndefined()
    // A REGISTRY_AUTH_FILE that does not exist is passed over.
    const gone = { ...env, REGISTRY_AUTH_FILE: path.join(h.dir, 'gone.json') }
    expect((await findCredentials({ registry: 'x.example', env: gone }))?.credentials).toEqual({
      username: 'x',
      password: '3'
    })
  })

  it('uses the workflow token for ghcr.io only, and only when nothing else is found', async () => {
    const h = await home()
    const q = { env: h.env, githubToken: 'ghs_x' }
    expect(await findCredentials({ ...q, registry: 'GHCR.io' })).toEqual({
      credentials: { username: 'github-actions', password: 'ghs_x' },
      source: 'the github-token input'
    })
    expect(
      (await findCredentials({ ...q, registry: 'ghcr.io', githubActor: 'octo' }))?.credentials
    ).toEqual({ username: 'octo', password: 'ghs_x' })
    expect(await findCredentials({ ...q, registry: 'quay.io' })).toBeUndefined()
    await h.docker({ auths: { 'ghcr.io': { auth: b64('me:pat') } } })
    expect((await findCredentials({ ...q, registry: 'ghcr.io' }))?.source).toMatch(/config\.json$/)
  })
})

describe('nearMissCredentials', () => {
  it('names a stored host the user may have meant, and no other', async () => {
    const h = await home()
    await h.docker({
      auths: { '127.0.0.1:5102': {}, 'https://reg.example:8443/v2/': {} },
      credHelpers: { '[::1]:7000': 'x' }
    })
    const config = path.join(h.dir, '.docker', 'config.json')
    const near = (registry: string): Promise<unknown> =>
      nearMissCredentials({ registry, env: h.env })
    expect(await near('localhost:5102')).toEqual({ host: '127.0.0.1:5102', file: config })
    expect(await near('reg.example')).toEqual({ host: 'reg.example:8443', file: config })
    expect(await near('REG.example:9000')).toEqual({ host: 'reg.example:8443', file: config })
    expect(await near('localhost:7000')).toEqual({ host: '[::1]:7000', file: config })
    expect(await near('127.0.0.1:5102')).toBeUndefined()
    expect(await near('localhost:5103')).toBeUndefined()
    expect(await near('localhost')).toBeUndefined()
    expect(await near('other.example:8443')).toBeUndefined()
  })

  it('looks in podman files too, and skips a file that is not JSON', async () => {
    const h = await home()
    await h.docker('{ broken')
    const authFile = await h.file('auth.json', { auths: { 'localhost:5000': {} } })
    expect(
      await nearMissCredentials({
        registry: '127.0.0.1:5000',
        env: { ...h.env, REGISTRY_AUTH_FILE: authFile }
      })
    ).toEqual({ host: 'localhost:5000', file: authFile })
  })
})

describe('parseChallenge', () => {
  it('reads the scheme and quoted or bare parameters in any order', () => {
    // (units.test.ts reads a whole registry challenge; these are the edges.)
    expect(parseChallenge('  Bearer service=registry.example, Realm="r"')).toEqual({
      scheme: 'bearer',
      params: { service: 'registry.example', realm: 'r' }
    })
    expect(parseChallenge('Basic Realm="a \\"quoted\\" realm"')).toEqual({
      scheme: 'basic',
      params: { realm: 'a "quoted" realm' }
    })
    expect(parseChallenge('Bearer realm=x,service=y')).toEqual({
      scheme: 'bearer',
      params: { realm: 'x', service: 'y' }
    })
    expect(parseChallenge('Basic')).toEqual({ scheme: 'basic', params: {} })
    expect(parseChallenge('Bearer,realm="x"')).toEqual({ scheme: 'bearer', params: { realm: 'x' } })
  })

  it('gives nothing for an absent or malformed header, and passes over what it cannot read', () => {
    expect(parseChallenge(undefined)).toBeUndefined()
    expect(parseChallenge('')).toBeUndefined()
    expect(parseChallenge('"Bearer" realm="x"')).toBeUndefined()
    expect(parseChallenge('Bearer realm="x" !junk service="y"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'x', service: 'y' }
    })
    expect(parseChallenge('Bearer\trealm="x"\n')).toEqual({
      scheme: 'bearer',
      params: { realm: 'x' }
    })
  })
})
