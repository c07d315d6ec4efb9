// A directory oras packed (tar+gzip, its members named under the directory's title), unpacked
// with the checks the layout tar reader applies: no absolute names, no `..`, no links leading
// out, nothing but files, directories and links.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import * as path from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { x, type ReadEntry } from 'tar'
import { DigestMismatchError, OciError } from '../errors/errors.js'
import { normaliseName } from '../layout/files.js'
import { parseDigest } from '../oci/digest.js'

const UNSAFE_HINT = 'nothing was written; the directory in the artifact is unsafe to unpack'

const KEPT_TYPES: ReadonlySet<string> = new Set([
  'File',
  'OldFile',
  'ContiguousFile',
  'Directory',
  'SymbolicLink',
  'Link'
])

/** A member or link target as a name under the archive root; undefined when it leaves it. */
function memberName(raw: string): string | undefined {
  const slashed = raw.replace(/\\/g, '/')
  if (slashed.startsWith('/') || /^[A-Za-z]:\//.test(slashed)) return undefined
  if (slashed.split('/').includes('..')) return undefined
  return normaliseName(slashed)
}

/** Why a member may not be unpacked under `prefix`, or undefined when it may. */
function refusal(entry: ReadEntry, prefix: string, links: Set<string>): string | undefined {
  const name = memberName(entry.path)
  const under = (n: string): boolean => n === prefix || n.startsWith(`${prefix}/`)
  if (name === undefined || !under(name)) return `points outside ${prefix}`
  if (!KEPT_TYPES.has(entry.type)) return `is a ${entry.type}, not a file, directory or link`
  const parts = name.split('/')
  // A member below a link the archive made would be written wherever the link leads.
  for (let i = 1; i < parts.length; i++)
    if (links.has(parts.slice(0, i).join('/'))) return 'lies beyond a symbolic link'
  const link = entry.linkpath ?? ''
  if (entry.type === 'SymbolicLink') {
    const target = link.startsWith('/')
      ? undefined
      : memberName(path.posix.join(path.posix.dirname(name), link))
    if (target === undefined || link === '' || !under(target))
      return `is a symbolic link to ${JSON.stringify(link.slice(0, 200))}, outside ${prefix}`
    links.add(name)
  }
  if (entry.type === 'Link') {
    const target = memberName(link)
    if (target === undefined || !under(target))
      return `is a hard link to ${JSON.stringify(link.slice(0, 200))}, outside ${prefix}`
  }
  return undefined
}

/** Hashes the tar inside a gzip file, as `algorithm:hex`. */
async function tarDigest(file: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm)
  await pipeline(
    createReadStream(file),
    createGunzip(),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk)
        done()
      }
    })
  )
  return `${algorithm}:${hash.digest('hex')}`
}

/**
 * Unpacks `tgz` (already verified against its layer digest) into `dir`, the directory named
 * `prefix`: the tar is first checked against `expectedTar`, then every member is checked before
 * it is written. Throws on the first member refused; the caller removes `dir`.
 */
export async function unpackDirectory(
  tgz: string,
  dir: string,
  prefix: string,
  expectedTar: string | undefined,
  what: string
): Promise<void> {
  try {
    if (expectedTar !== undefined) {
      const actual = await tarDigest(tgz, parseDigest(expectedTar).algorithm)
      if (actual !== expectedTar)
        throw new DigestMismatchError(
          expectedTar,
          actual,
          `${what} (its tar)`,
          'the artifact is damaged or its io.deis.oras.content.digest is wrong; push it again'
        )
    }
  } catch (err) {
    if (err instanceof OciError) throw err
    throw new OciError(`${what}: not a gzip-compressed tar (${(err as Error).message})`, {
      hint: UNSAFE_HINT
    })
  }
  await mkdir(dir, { recursive: true })
  const links = new Set<string>()
  let refused: OciError | undefined
  try {
    await x({
      file: tgz,
      cwd: dir,
      strict: true,
      strip: prefix.split('/').length,
      preserveOwner: false,
      filter: (_p, entry) => {
        if (refused) return false
        const why = refusal(entry as ReadEntry, prefix, links)
        if (why)
          refused = new OciError(
            `${what}: member ${JSON.stringify((entry as ReadEntry).path.slice(0, 200))} ${why}`,
            { hint: UNSAFE_HINT }
          )
        return !refused
      }
    })
  } catch (err) {
    throw (
      refused ??
      new OciError(`${what}: cannot be unpacked (${(err as Error).message})`, {
        hint: UNSAFE_HINT
      })
    )
  }
  if (refused) throw refused
}
