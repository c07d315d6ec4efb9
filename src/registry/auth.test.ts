// The registry authenticator in-process, against a scripted token service (mutation testing sees
// these; auth.test.ts drives the same code through real registries and a token server): which
// header each challenge gets, when asking again may help, how tokens are fetched, cached and
// renewed, and the one line each refusal becomes.
import { jest } from '@jest/globals'
import { Readable } from 'node:stream'
import { AuthError, RegistryError } from '../errors/errors.js'
import { Authenticator, scopeCovers, type AuthOptions } from './auth.js'
import type { Credentials } from './credentials.js'
import type { HttpRequest, HttpResponse, HttpTransport } from '../transport/http.js'
import { caught } from '../../__tests__/helpers/settle.js'

const HOST = 'reg.example'
const REALM = 'https://auth.example/token'

function response(
  status: number,
  body: unknown = '',
  headers: Record<string, string> = {}
): HttpResponse {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  return {
    status,
    headers,
    body: Readable.from(text ? [Buffer.from(text)] : []),
    url: new URL(REALM)
  }
}

const bearer = (params: Record<string, string> = {}): HttpResponse =>
  response(401, '', {
    'www-authenticate': `Bearer ${Object.entries({ realm: REALM, service: 'reg', ...params })
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')}`
  })
const basicChallenge = (): HttpResponse =>
  response(401, '', { 'www-authenticate': 'Basic realm="reg"' })

/** A token service answering each request with the next of `answers` (the last one repeats). */
function tokenService(...answers: HttpResponse[]): HttpTransport & { requests: HttpRequest[] } {
  const requests: HttpRequest[] = []
  let i = 0
  const send = async (req: HttpRequest): Promise<HttpResponse> => {
    requests.push(req)
    const a = answers[Math.min(i++, answers.length - 1)]
    // A fresh body each time the same answer is given.
    return { ...a, body: Readable.from([await read(a)]) }
  }
  const bodies = new Map<HttpResponse, Buffer>()
  const read = async (a: HttpResponse): Promise<Buffer> => {
    if (!bodies.has(a)) {
      const chunks: Buffer[] = []
      for await (const c of a.body) chunks.push(c as Buffer)
      bodies.set(a, Buffer.concat(chunks))
    }
    return bodies.get(a) as Buffer
  }
  return { send, requests } as unknown as HttpTransport & { requests: HttpRequest[] }
}

const token = (t: string, extra: Record<string, unknown> = {}): HttpResponse =>
  response(200, { token: t, ...extra })
const userPass: Credentials = { username: 'alice', password: 'pw' }
const b64 = (s: string): string => Buffer.from(s).toString('base64')
const auth = (t: HttpTransport, creds?: Credentials, opts?: AuthOptions): Authenticator =>
  new Authenticator(t, HOST, creds, opts)

describe('scopeCovers', () => {
  it('a scope covers another when every resource has every action, or *', () => {
    expect(scopeCovers('repository:a:pull,push', 'repository:a:pull')).toBe(true)
    expect(scopeCovers('repository:a:pull', 'repository:a:pull,push')).toBe(false)
    expect(scopeCovers('repository:a:*', 'repository:a:delete')).toBe(true)
    expect(scopeCovers('repository:a:pull', 'repository:b:pull')).toBe(false)
    expect(scopeCovers('repository:a:pull repository:b:pull', 'repository:b:pull')).toBe(true)
    // The resource is all before the last colon: a registry port is part of it.
    expect(scopeCovers('repository:h:5000/a:pull', 'repository:h:5000/a:pull')).toBe(true)
    expect(scopeCovers('repository:h:5000/a:pull', 'repository:h:5000/b:pull')).toBe(false)
    expect(scopeCovers('', '')).toBe(true)
    expect(scopeCovers('', 'repository:a:pull')).toBe(false)
    // Spaces around scopes are not scopes; names and actions are compared whole.
    expect(scopeCovers('repository:a:pull', ' repository:a:pull  ')).toBe(true)
    expect(scopeCovers('repository:ab:pull', 'repository:ba:pull')).toBe(false)
    expect(scopeCovers('repository:a:delete', 'repository:a:led')).toBe(false)
  })
})

describe('Authenticator', () => {
  it('sends nothing before a challenge, Basic credentials on a Basic one', async () => {
    const t = tokenService()
    const a = auth(t, userPass)
    expect(a.knowsChallenge).toBe(false)
    expect(await a.header('repository:x:pull')).toBeUndefined()
    expect(a.learn(basicChallenge(), 'repository:x:pull', undefined)).toBe(true)
    expect(a.knowsChallenge).toBe(true)
    expect(await a.header('repository:x:pull')).toBe(`Basic ${b64('alice:pw')}`)
    // Sent without credentials: asking again with them may help.
    expect(a.learn(basicChallenge(), 'repository:x:pull', undefined)).toBe(true)
    // Refused with the credentials sent: asking again will not help.
    expect(a.learn(basicChallenge(), 'repository:x:pull', `Basic ${b64('alice:pw')}`)).toBe(false)
    const id = auth(t, { identityToken: 'idt' })
    id.learn(basicChallenge(), 's', undefined)
    expect(await id.header('s')).toBe(`Basic ${b64('<token>:idt')}`)
    const anon = auth(t)
    anon.learn(basicChallenge(), 's', undefined)
    expect(await anon.header('s')).toBeUndefined()
    expect(a.username).toBe('alice')
    expect(anon.username).toBeUndefined()
    expect(t.requests).toHaveLength(0)
  })

  it('ignores a 401 without a challenge it can read, and an unknown scheme', async () => {
    const a = auth(tokenService(), userPass)
    expect(a.learn(response(401), 's', undefined)).toBe(false)
    expect(
      a.learn(response(401, '', { 'www-authenticate': 'Negotiate abc' }), 's', undefined)
    ).toBe(true)
    expect(await a.header('s')).toBeUndefined()
  })

  it('trades credentials for a bearer token per scope, with the service and every scope', async () => {
    const t = tokenService(token('t1'), token('t2'))
    const secrets: string[] = []
    const a = auth(t, userPass, { onSecret: (s) => secrets.push(s) })
    expect(a.learn(bearer(), 'repository:x:pull', undefined)).toBe(true)
    expect(await a.header('repository:x:pull repository:y:pull')).toBe('Bearer t1')
    const req = t.requests[0]
    expect(req.method).toBe('GET')
    expect(req.url.origin + req.url.pathname).toBe(REALM)
    expect(req.url.searchParams.get('service')).toBe('reg')
    expect(req.url.searchParams.getAll('scope')).toEqual(['repository:x:pull', 'repository:y:pull'])
    expect(req.headers).toEqual({
      Accept: 'application/json',
      Authorization: `Basic ${b64('alice:pw')}`
    })
    // Cached per scope: the same scope asks nothing more, another scope asks once.
    expect(await a.header('repository:x:pull repository:y:pull')).toBe('Bearer t1')
    expect(await a.header('repository:z:pull')).toBe('Bearer t2')
    expect(t.requests).toHaveLength(2)
    expect(secrets).toEqual(['t1', 't2'])
  })

  it('asks anonymously without credentials, and leaves out a service not named', async () => {
    const t = tokenService(response(200, { access_token: 'anon', refresh_token: 'r' }))
    const secrets: string[] = []
    const a = auth(t, undefined, { onSecret: (s) => secrets.push(s) })
    a.learn(response(401, '', { 'www-authenticate': `Bearer realm="${REALM}"` }), 's', undefined)
    expect(await a.header('s')).toBe('Bearer anon')
    expect(Object.keys(t.requests[0].headers ?? {})).toEqual(['Accept'])
    expect(t.requests[0].url.searchParams.has('service')).toBe(false)
    expect(secrets).toEqual(['anon', 'r'])
    // Without a secret sink, a refresh token is simply not reported.
    const quiet = auth(tokenService(response(200, { token: 'q', refresh_token: 'r' })))
    quiet.learn(bearer(), 's', undefined)
    expect(await quiet.header('s')).toBe('Bearer q')
  })

  it('fetches one token for concurrent requests of one scope', async () => {
    const t = tokenService(token('t1'), token('t2'))
    const a = auth(t, userPass)
    a.learn(bearer(), 's', undefined)
    expect(await Promise.all([a.header('s'), a.header('s'), a.header('s')])).toEqual([
      'Bearer t1',
      'Bearer t1',
      'Bearer t1'
    ])
    expect(t.requests).toHaveLength(1)
  })

  it('renews a token ahead of its expiry: half its lifetime, at most 30 s early', async () => {
    jest.useFakeTimers({
      now: 1_000_000,
      doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask']
    })
    try {
      for (const [expiresIn, stillGood, renewed] of [
        [20, 9_999, 10_000], // half of 20 s
        [300, 269_999, 270_000], // 30 s early
        [undefined, 29_999, 30_000], // the spec's default of 60 s
        [-5, 29_999, 30_000], // nonsense: the default
        [0, 29_999, 30_000],
        ['300', 29_999, 30_000] // not a number: the default
      ] as const) {
        const t = tokenService(token('a', { expires_in: expiresIn }), token('b'))
        const a = auth(t, userPass)
        a.learn(bearer(), 's', undefined)
        const start = Date.now()
        expect(await a.header('s')).toBe('Bearer a')
        jest.setSystemTime(start + stillGood)
        expect(await a.header('s')).toBe('Bearer a')
        jest.setSystemTime(start + renewed)
        expect(await a.header('s')).toBe('Bearer b')
      }
    } finally {
      jest.useRealTimers()
    }
  })

  it('asks again for a wider scope the registry names, and keeps using it', async () => {
    const t = tokenService(token('narrow'), token('wide'))
    const a = auth(t, userPass)
    a.learn(bearer(), 'repository:x:push', undefined)
    const sent = await a.header('repository:x:push')
    const wider = bearer({ scope: 'repository:x:pull,push repository:y:pull' })
    expect(a.learn(wider, 'repository:x:push', sent)).toBe(true)
    expect(await a.header('repository:x:push')).toBe('Bearer wide')
    expect(t.requests[1].url.searchParams.getAll('scope')).toEqual([
      'repository:x:push',
      'repository:x:pull,push',
      'repository:y:pull'
    ])
    // The wide token refused: fetched afresh once, then refused for good.
    expect(a.learn(wider, 'repository:x:push', 'Bearer wide')).toBe(true)
    expect(a.learn(wider, 'repository:x:push', 'Bearer wide')).toBe(false)
  })

  it('after a refusal: asks again when nothing was sent, or a newer token exists; once for a stale one', async () => {
    const t = tokenService(token('t1'), token('t2'))
    const a = auth(t, userPass)
    a.learn(bearer(), 's', undefined)
    expect(a.learn(bearer(), 's', undefined)).toBe(true)
    // No token was ever fetched for this scope, yet one was sent and refused.
    expect(a.learn(bearer(), 'other', 'Bearer zz')).toBe(false)
    await a.header('s')
    expect(a.learn(bearer(), 's', 'Bearer older')).toBe(true)
    expect(await a.header('s')).toBe('Bearer t1')
    // The cached token itself was refused: dropped and fetched afresh, once.
    expect(a.learn(bearer(), 's', 'Bearer t1')).toBe(true)
    expect(await a.header('s')).toBe('Bearer t2')
    expect(a.learn(bearer(), 's', 'Bearer t2')).toBe(true)
    expect(a.learn(bearer(), 's', 'Bearer t2')).toBe(false)
  })

  it('two requests refused at once with the same stale token both ask again, on their first try', async () => {
    const t = tokenService(token('t1'), token('t2'))
    const a = auth(t, userPass)
    a.learn(bearer(), 's', undefined)
    expect(await a.header('s')).toBe('Bearer t1')
    // The first refusal drops t1; the second finds it gone, dropped by the first.
    expect(a.learn(bearer(), 's', 'Bearer t1', true)).toBe(true)
    expect(a.learn(bearer(), 's', 'Bearer t1', true)).toBe(true)
    expect(await a.header('s')).toBe('Bearer t2')
    // A request refused again after asking again does not ask a third time for a dropped token.
    expect(a.learn(bearer(), 's', 'Bearer t2', true)).toBe(true)
    expect(a.learn(bearer(), 's', 'Bearer t2', false)).toBe(false)
  })

  it('a new realm or scheme is a new challenge', () => {
    const a = auth(tokenService(), userPass)
    a.learn(bearer(), 's', undefined)
    const elsewhere = response(401, '', {
      'www-authenticate': 'Bearer realm="https://other.example/token"'
    })
    expect(a.learn(elsewhere, 's', 'Bearer x')).toBe(true)
    expect(a.learn(basicChallenge(), 's', 'Bearer x')).toBe(true)
    expect(a.learn(bearer(), 's', 'Basic x')).toBe(true)
    // The same realm under another scheme is a new challenge too.
    expect(
      a.learn(response(401, '', { 'www-authenticate': `Basic realm="${REALM}"` }), 's', 'Bearer x')
    ).toBe(true)
    // Several challenges in one header list: the first is taken.
    const two = response(401, '', {})
    two.headers['www-authenticate'] = ['Basic realm="reg"', 'Bearer realm="x"'] as unknown as string
    const b = auth(tokenService(), userPass)
    b.learn(two, 's', undefined)
    expect(b.learn(basicChallenge(), 's', 'Basic y')).toBe(false)
  })

  it('trades an identity token by the refresh-token POST, and by GET where there is none', async () => {
    const t = tokenService(token('t1'))
    const a = auth(t, { identityToken: 'idt', username: 'bob' })
    a.learn(bearer(), 'repository:x:pull repository:y:pull', undefined)
    expect(await a.header('repository:x:pull repository:y:pull')).toBe('Bearer t1')
    const post = t.requests[0]
    expect(post.method).toBe('POST')
    expect(post.headers).toEqual({
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json'
    })
    expect(Object.fromEntries(new URLSearchParams(String(post.body)))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'idt',
      client_id: 'oci-layout-action',
      service: 'reg',
      scope: 'repository:x:pull repository:y:pull'
    })
    // Answered: no GET after it.
    expect(t.requests).toHaveLength(1)
    const t2 = tokenService(response(404, 'no'), token('t2'))
    const b = auth(t2, { identityToken: 'idt' })
    b.learn(response(401, '', { 'www-authenticate': `Bearer realm="${REALM}"` }), '', undefined)
    expect(await b.header('')).toBe('Bearer t2')
    expect(Object.fromEntries(new URLSearchParams(String(t2.requests[0].body)))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'idt',
      client_id: 'oci-layout-action'
    })
    expect(t2.requests[1]?.method).toBe('GET')
    expect(t2.requests[1]?.headers?.Authorization).toBe(`Basic ${b64('<token>:idt')}`)
  })

  it('names a realm it cannot use, and will not send credentials to a plain-HTTP one', async () => {
    const failure = async (realm: string | undefined, creds?: Credentials, opts?: AuthOptions) => {
      const a = auth(tokenService(token('t')), creds, opts)
      const params = realm === undefined ? 'service="reg"' : `realm="${realm}"`
      a.learn(response(401, '', { 'www-authenticate': `Bearer ${params}` }), 's', undefined)
      return caught(a.header('s'))
    }
    expect(await failure(undefined)).toMatchObject({
      constructor: AuthError,
      message: `registry ${HOST} sent a bearer challenge without a usable realm (none)`
    })
    expect(await failure('not a url')).toMatchObject({
      message: `registry ${HOST} sent a bearer challenge without a usable realm (not a url)`
    })
    expect(await failure('ftp://auth.example/t')).toMatchObject({
      message: `registry ${HOST}: token realm ftp://auth.example/t is not http(s)`
    })
    expect(await failure('http://auth.example/t', userPass)).toMatchObject({
      constructor: AuthError,
      message: 'refusing to send credentials to token service http://auth.example over plain HTTP',
      hint: 'the registry should use an https token realm; set plain-http: true only if you accept sending them in clear'
    })
    // Anonymously, on loopback, or with plain HTTP asked for, it asks.
    expect(await failure('http://auth.example/t')).toBeUndefined()
    expect(await failure('http://127.0.0.1:5001/t', userPass)).toBeUndefined()
    expect(
      await failure('http://auth.example/t', userPass, { allowPlainHttp: true })
    ).toBeUndefined()
  })

  it('turns what the token service says into one line naming who was refused', async () => {
    const refusal = async (res: HttpResponse, creds?: Credentials, opts?: AuthOptions) => {
      const a = auth(tokenService(res), creds, opts)
      a.learn(bearer(), 's', undefined)
      return caught(a.header('s'))
    }
    const denied = response(401, {
      errors: [
        { code: 'UNAUTHORIZED', message: 'bad password' },
        { code: 'UNAUTHORIZED', message: 'try again' }
      ]
    })
    expect(await refusal(denied, userPass)).toMatchObject({
      constructor: AuthError,
      message: `registry ${HOST} rejected the credentials of user "alice" (bad password; try again)`,
      hint: 'check the username and password inputs'
    })
    expect(
      await refusal(
        response(403, { errors: [{ code: 'DENIED', message: '' }] }),
        { identityToken: 'i' },
        {
          rejectedHint: 'from ~/.docker/config.json'
        }
      )
    ).toMatchObject({
      message: `registry ${HOST} rejected the credentials (DENIED)`,
      hint: 'from ~/.docker/config.json'
    })
    expect(await refusal(response(401))).toMatchObject({
      message: `registry ${HOST} requires authentication (HTTP 401)`,
      hint: 'set the username and password inputs, or log in first (docker/login-action)'
    })
    expect(await refusal(response(401), undefined, { missingHint: 'near miss' })).toMatchObject({
      hint: 'near miss'
    })
    const broken = await refusal(response(502, 'gateway'), userPass)
    expect(broken).toBeInstanceOf(RegistryError)
    expect(broken).toMatchObject({
      message: 'token service https://auth.example failed with HTTP 502',
      status: 502,
      method: 'GET',
      url: REALM
    })
    expect(await refusal(response(200, 'not json'), userPass)).toMatchObject({
      constructor: AuthError,
      message: 'token service https://auth.example answered with something other than JSON'
    })
    for (const body of [{}, { token: '' }, { token: 5 }, { access_token: 5 }])
      expect(await refusal(response(200, body), userPass)).toMatchObject({
        message: 'token service https://auth.example answered without a token'
      })
    const a = auth(tokenService(response(200, { token: '', access_token: 'acc' })), userPass)
    a.learn(bearer(), 's', undefined)
    expect(await a.header('s')).toBe('Bearer acc')
  })

  it('a request refused after authorising says who may not do what, and how to fix it', () => {
    const refused = (
      res: HttpResponse,
      body: unknown,
      creds: Credentials | undefined,
      host = HOST
    ): AuthError =>
      new Authenticator(tokenService(), host, creds).refused(
        res,
        Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
        'push to org/app'
      )
    const unauthorized = { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }
    expect(refused(response(401), unauthorized, userPass)).toMatchObject({
      message: `registry ${HOST} rejected the credentials of user "alice" (UNAUTHORIZED: authentication required)`,
      hint: 'check the username and password inputs'
    })
    expect(refused(response(401), '', undefined)).toMatchObject({
      message: `registry ${HOST} requires authentication (HTTP 401)`
    })
    expect(refused(response(403), '', userPass)).toMatchObject({
      message: `registry ${HOST}: user "alice" may not push to org/app (HTTP 403)`,
      hint: 'grant the user that permission'
    })
    expect(refused(response(403), '', userPass, 'ghcr.io')).toMatchObject({
      hint: 'grant the user that permission; in a workflow add `permissions: packages: write`'
    })
    const scope = bearer({ error: 'insufficient_scope' })
    expect(refused(scope, unauthorized, { identityToken: 'i' })).toMatchObject({
      message: `registry ${HOST}: user "<token>" may not push to org/app (insufficient_scope)`
    })
    const two = {
      errors: [
        { code: 'DENIED', message: 'no' },
        { code: 'DENIED', message: 'never' }
      ]
    }
    expect(refused(response(401), two, undefined)).toMatchObject({
      message: `registry ${HOST}: anonymous access may not push to org/app (DENIED: no; DENIED: never)`,
      hint: 'set the username and password inputs, or log in first (docker/login-action)'
    })
  })
})
