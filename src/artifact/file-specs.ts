// Reading `oras push` file arguments: `PATH[:MEDIATYPE]`, the path becoming the layer's title.
import * as path from 'node:path'
import { InputError } from '../errors/errors.js'

/** One file argument: where it is, the title it gets, and the media type asked for (if any). */
export interface FileSpec {
  /** The path as given (relative to the working directory). */
  path: string
  /** `org.opencontainers.image.title`: the path, normalised (no `./`, no trailing `/`). */
  title: string
  mediaType?: string
}

/** A media type as the OCI spec words it: `type/subtype`, with optional `+suffix` and parameters. */
const MEDIA_TYPE_RE = /^[A-Za-z0-9][\w.+-]*\/[A-Za-z0-9][\w.+-]*(?:;.*)?$/

/**
 * `PATH[:MEDIATYPE]`: the part after the last `:` is a media type when it looks like one (oras
 * reads it the same way), so `a:b.txt` stays a path. Titles are what `oras pull` writes back, so
 * a path that would leave its output directory (absolute, or through `..`) is refused here.
 */
export function parseFileSpec(arg: string): FileSpec {
  const colon = arg.lastIndexOf(':')
  const tail = colon > 0 ? arg.slice(colon + 1) : ''
  const hasType = MEDIA_TYPE_RE.test(tail)
  const given = hasType ? arg.slice(0, colon) : arg
  const mediaType = hasType ? tail : undefined
  if (!given)
    throw new InputError(`file argument ${arg} names no file`, {
      hint: 'give FILE or FILE:MEDIATYPE, e.g. report.json:application/json'
    })
  if (path.isAbsolute(given) || /^[A-Za-z]:[\\/]/.test(given))
    throw new InputError(`file ${given} is an absolute path, which would be its title`, {
      hint: 'give it relative to the working directory, from its folder: a pull writes titles inside its output directory'
    })
  const title = path.posix
    .normalize(given.replaceAll('\\', '/'))
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '')
  if (title === '.' || title === '' || title.split('/').includes('..'))
    throw new InputError(
      `file ${given} is outside the working directory, which its title would say`,
      {
        hint: 'run the command from a folder that holds the file and give its path from there'
      }
    )
  return { path: given, title, mediaType }
}

/** Parses every argument, refusing two that would get the same title. */
export function parseFileSpecs(args: string[]): FileSpec[] {
  const specs = args.map(parseFileSpec)
  const seen = new Set<string>()
  for (const s of specs) {
    if (seen.has(s.title))
      throw new InputError(`file ${s.title} is given twice`, {
        hint: 'each file becomes one layer titled with its path: name it once'
      })
    seen.add(s.title)
  }
  return specs
}
