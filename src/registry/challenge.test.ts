// The WWW-Authenticate challenge parser.
import { parseChallenge } from './challenge.js'

describe('parseChallenge', () => {
  it('reads a bearer challenge with quoted values and commas inside', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'
      )
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'registry.example',
        scope: 'repository:a/b:pull,push'
      }
    })
  })
  it('reads basic', () => {
    expect(parseChallenge('Basic realm="basic-realm"')).toEqual({
      scheme: 'basic',
      params: { realm: 'basic-realm' }
    })
  })
  it('returns undefined for nothing', () => expect(parseChallenge(undefined)).toBeUndefined())
})
