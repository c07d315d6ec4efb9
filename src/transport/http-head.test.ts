// The HTTP/1.1 head parser of the slab-landing GET on its own (pure, in-process): what it takes,
// what it leaves to node:http, and what it refuses as a strict reader would. What a server sends
// is what an attacker controls, so each refusal is pinned down.
import { netError, NotRawError, parseHead, requestHead } from './http-head.js'
import { rawGetDisabled } from './http.js'

const head = (...lines: string[]): string => lines.join('\r\n')
const refused = (text: string): { code?: string; message: string } => {
  try {
    parseHead(text)
  } catch (err) {
    return err as { code?: string; message: string }
  }
  throw new Error(`parsed: ${JSON.stringify(text)}`)
}

describe('parseHead', () => {
  it('reads the status, the headers (names lower-cased, values trimmed) and the length', () => {
    expect(parseHead(head('HTTP/1.1 200 OK', 'Content-Length: 12', 'X-A:  b  '))).toEqual({
      status: 200,
      headers: { 'content-length': '12', 'x-a': 'b' },
      length: 12,
      keep: true
    })
    // No reason phrase is fine; repeated headers join, Set-Cookie stays a list.
    expect(
      parseHead(
        head(
          'HTTP/1.1 404',
          'Content-Length: 0',
          'Vary: a',
          'Vary: b',
          'Set-Cookie: x=1',
          'Set-Cookie: y=2'
        )
      )
    ).toMatchObject({
      status: 404,
      headers: { vary: 'a, b', 'set-cookie': ['x=1', 'y=2'] },
      length: 0
    })
  })

  it('keeps a 1.1 connection unless told to close, a 1.0 one only when told to keep it', () => {
    const keep = (version: string, connection?: string): boolean =>
      parseHead(
        head(
          `HTTP/${version} 200 OK`,
          'Content-Length: 0',
          ...(connection ? [`Connection: ${connection}`] : [])
        )
      ).keep
    expect(keep('1.1')).toBe(true)
    expect(keep('1.1', 'Close')).toBe(false)
    expect(keep('1.1', 'keep-alive, close')).toBe(false)
    expect(keep('1.1', 'closed')).toBe(true)
    expect(keep('1.0')).toBe(false)
    expect(keep('1.0', 'Keep-Alive')).toBe(true)
  })

  it('gives no body to interim answers, 204 and 304, whatever their headers say', () => {
    for (const status of ['100 Continue', '204 No Content', '304 Not Modified'])
      expect(parseHead(head(`HTTP/1.1 ${status}`, 'Transfer-Encoding: chunked'))).toMatchObject({
        length: 0
      })
  })

  it('leaves chunked answers, and answers without a length, to node:http', () => {
    for (const text of [
      head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'),
      head('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', 'Content-Length: 5'),
      head('HTTP/1.1 200 OK')
    ])
      expect(refused(text)).toBeInstanceOf(NotRawError)
  })

  it('takes a length repeated with the same value, refuses one that is not one length', () => {
    expect(parseHead(head('HTTP/1.1 200 OK', 'Content-Length: 7, 7')).length).toBe(7)
    expect(
      parseHead(head('HTTP/1.1 200 OK', 'Content-Length: 7', 'Content-Length: 7')).length
    ).toBe(7)
    for (const value of ['7, 8', '-1', '1e3', '0x10', '', '1234567890123456', ' 5 5'])
      expect(refused(head('HTTP/1.1 200 OK', `Content-Length: ${value}`))).toMatchObject({
        code: 'HPE_INVALID_RESPONSE',
        message: `invalid Content-Length ${JSON.stringify(value.trim().slice(0, 40))}`
      })
    expect(parseHead(head('HTTP/1.1 200 OK', 'Content-Length: 999999999999999')).length).toBe(
      999999999999999
    )
  })

  it('refuses what is not an HTTP/1 status line', () => {
    for (const line of [
      'SSH-2.0-OpenSSH',
      'HTTP/2 200',
      'HTTP/1.1 99 x',
      'HTTP/1.1 2000',
      'http/1.1 200',
      ' HTTP/1.1 200',
      'HTTP/1.1 200OK'
    ])
      expect(refused(head(line, 'Content-Length: 0'))).toMatchObject({
        code: 'HPE_INVALID_RESPONSE',
        message: `not an HTTP/1.1 answer: ${JSON.stringify(line.slice(0, 80))}`
      })
    expect(refused('x'.repeat(200)).message).toBe(`not an HTTP/1.1 answer: "${'x'.repeat(80)}"`)
  })

  it('refuses a header line without a name, a colon, or with a name that is not a token', () => {
    for (const line of [
      'Bad Header',
      ': value',
      'Bad Name: x',
      'X-A\t: b',
      ' X-Folded: b',
      'Ünï: x'
    ])
      expect(refused(head('HTTP/1.1 200 OK', line, 'Content-Length: 0'))).toMatchObject({
        code: 'HPE_INVALID_RESPONSE',
        message: 'malformed header line in an answer'
      })
  })
})

describe('requestHead', () => {
  it('writes the GET with its path, query, host and headers', () => {
    expect(requestHead(new URL('http://h:5000/v2/x/blobs/sha256:a?b=c'), { Accept: '*/*' })).toBe(
      'GET /v2/x/blobs/sha256:a?b=c HTTP/1.1\r\nHost: h:5000\r\nAccept: */*\r\n\r\n'
    )
  })

  it('refuses a header whose name or value would change the framing', () => {
    for (const [name, value] of [
      ['X-A', 'a\rb'],
      ['X-A', 'a\nb'],
      ['X-A', 'a\0b'],
      ['X A', 'v'],
      ['X-A:', 'v']
    ])
      expect(() => requestHead(new URL('http://h/'), { [name]: value })).toThrow(
        `refusing to send header ${JSON.stringify(name)}: invalid characters`
      )
  })
})

describe('netError and the opt-out', () => {
  it('a network fault carries a code the retry logic knows, ECONNRESET unless said', () => {
    expect(netError('gone')).toMatchObject({ message: 'gone', code: 'ECONNRESET' })
    expect(netError('slow', 'ETIMEDOUT')).toMatchObject({ code: 'ETIMEDOUT' })
  })

  it('OCI_LAYOUT_RAW_GET=0 (or false) turns the slab-landing GET off', () => {
    expect(rawGetDisabled({})).toBe(false)
    expect(rawGetDisabled({ OCI_LAYOUT_RAW_GET: '1' })).toBe(false)
    expect(rawGetDisabled({ OCI_LAYOUT_RAW_GET: '0' })).toBe(true)
    expect(rawGetDisabled({ OCI_LAYOUT_RAW_GET: 'false' })).toBe(true)
  })
})
