// File arguments as oras reads them: an optional media type after the last colon, the path as
// the title, and nothing that a pull would write outside its directory.
import { InputError } from '../errors/errors.js'
import { parseFileSpec, parseFileSpecs } from './file-specs.js'

function thrown(f: () => unknown): unknown {
  try {
    f()
  } catch (err) {
    return err
  }
  return undefined
}

describe('parseFileSpec', () => {
  it('reads PATH and PATH:MEDIATYPE; a colon that starts no media type stays in the path', () => {
    expect(parseFileSpec('a.txt')).toEqual({ path: 'a.txt', title: 'a.txt' })
    expect(parseFileSpec('docs/b.json:application/json')).toEqual({
      path: 'docs/b.json',
      title: 'docs/b.json',
      mediaType: 'application/json'
    })
    expect(parseFileSpec('x:application/vnd.a+json; v=1').mediaType).toBe(
      'application/vnd.a+json; v=1'
    )
    expect(parseFileSpec('time:12.txt')).toEqual({ path: 'time:12.txt', title: 'time:12.txt' })
  })

  it('titles a path as given, without ./ or a trailing slash', () => {
    expect(parseFileSpec('./dir/').title).toBe('dir')
    expect(parseFileSpec('a//b/./c').title).toBe('a/b/c')
  })

  it('refuses absolute paths and paths through .., naming the fix', () => {
    for (const arg of ['/etc/passwd', '../x', 'a/../../x', '.', 'C:\\x']) {
      const err = thrown(() => parseFileSpec(arg))
      expect(err).toBeInstanceOf(InputError)
      expect((err as InputError).hint).toBeTruthy()
    }
    // `a/../b` stays inside: its title is b.
    expect(parseFileSpec('a/../b').title).toBe('b')
  })

  it('refuses two files with one title', () => {
    const err = thrown(() => parseFileSpecs(['a.txt', './a.txt:text/plain']))
    expect(err).toBeInstanceOf(InputError)
    expect((err as Error).message).toBe('file a.txt is given twice')
  })
})
