// A token server in the shape of Docker's token auth spec: GET with Basic credentials (or none),
// POST with a refresh token; it signs JWTs that the distribution registry verifies against the
// certificate in its rootcertbundle.
import { createSign, X509Certificate, randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { makeSigningKey } from './tls.js'

export interface TokenUser {
  password: string
  /** repository name → actions granted, e.g. { 'org/app': ['pull', 'push'] }; '*' matches all. */
  access: Record<string, string[]>
}

export interface TokenServerOptions {
  users: Record<string, TokenUser>
  /** What anonymous requests may do, same shape as TokenUser.access. */
  anonymous?: Record<string, string[]>
  /** refresh token → user name, for the refresh-token POST flow. */
  refreshTokens?: Record<string, string>
  /** Token lifetime in seconds (the registry's own 60 s leeway is taken off `exp`). */
  lifetime?: number
  /** expires_in to announce, when it should differ from the real lifetime (a token that dies early). */
  announcedLifetime?: number
  /** Answer POST with 404, as registries without the OAuth2 flow do. */
  noPost?: boolean
}

export interface TokenServer {
  realm: string
  service: string
  issuer: string
  certFile: string
  /** Every token request: method, user (or 'anonymous'), scopes asked, whether it was granted. */
  log: { method: string; user: string; scopes: string[]; status: number }[]
  /** Every token issued, to check none is ever printed. */
  issued: string[]
  stop(): Promise<void>
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url')
const REGISTRY_LEEWAY = 60

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const signing = await makeSigningKey()
  const der = new X509Certificate(signing.cert).raw
  const service = 'test-registry'
  const issuer = 'oci-layout-test-issuer'
  const lifetime = opts.lifetime ?? 300
  const log: TokenServer['log'] = []
  const issued: string[] = []

  const grant = (
    user: string | undefined,
    scopes: string[]
  ): { type: string; name: string; actions: string[] }[] => {
    const table = user ? opts.users[user].access : (opts.anonymous ?? {})
    return scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(':')
      if (type !== 'repository' || !name) return []
      const allowed = table[name] ?? table['*'] ?? []
      const granted = (actions ?? '').split(',').filter((a) => allowed.includes(a))
      return [{ type, name, actions: granted }]
    })
  }

  const sign = (sub: string, access: ReturnType<typeof grant>): string => {
    const now = Math.floor(Date.now() / 1000)
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] }
    // The registry allows 60 s of leeway past exp; take it off so the token really lives `lifetime`.
    const claims = {
      iss: issuer,
      sub,
      aud: service,
      iat: now,
      nbf: now - 5,
      exp: now + lifetime - REGISTRY_LEEWAY,
      jti: randomUUID(),
      access
    }
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`
    const signature = createSign('RSA-SHA256').update(input).sign(signing.key)
    const token = `${input}.${b64url(signature)}`
    issued.push(token)
    return token
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const answer = (
      status: number,
      body: unknown,
      method: string,
      user: string,
      scopes: string[]
    ): void => {
      log.push({ method, user, scopes, status })
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'POST') {
      let form = ''
      req.on('data', (c: Buffer) => (form += c.toString()))
      req.on('end', () => {
        const p = new URLSearchParams(form)
        const scopes = (p.get('scope') ?? '').split(' ').filter(Boolean)
        if (opts.noPost) return answer(404, { error: 'not found' }, 'POST', '?', scopes)
        const user = opts.refreshTokens?.[p.get('refresh_token') ?? '']
        if (p.get('grant_type') !== 'refresh_token' || !user)
          return answer(
            401,
            { errors: [{ code: 'UNAUTHORIZED', message: 'invalid refresh token' }] },
            'POST',
            '?',
            scopes
          )
        answer(
          200,
          {
            access_token: sign(user, grant(user, scopes)),
            expires_in: opts.announcedLifetime ?? lifetime,
            refresh_token: p.get('refresh_token')
          },
          'POST',
          user,
          scopes
        )
      })
      return
    }
    const scopes = url.searchParams.getAll('scope')
    const auth = req.headers.authorization
    let user: string | undefined
    if (auth?.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString()
      const i = decoded.indexOf(':')
      const name = decoded.slice(0, i)
      const secret = decoded.slice(i + 1)
      if (opts.users[name]?.password === secret) user = name
      else if (opts.refreshTokens?.[secret]) user = opts.refreshTokens[secret]
      else
        return answer(
          401,
          { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] },
          'GET',
          name,
          scopes
        )
    }
    answer(
      200,
      {
        token: sign(user ?? 'anonymous', grant(user, scopes)),
        expires_in: opts.announcedLifetime ?? lifetime
      },
      'GET',
      user ?? 'anonymous',
      scopes
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certFile: signing.certFile,
    log,
    issued,
    stop: () => new Promise<void>((r) => server.close(() => r()))
  }
}
