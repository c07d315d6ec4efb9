// Which layers of an artifact are files, and where each may go: oras names a file by the
// `org.opencontainers.image.title` annotation of its layer, and packs a directory as one tar+gzip
// layer. Titles come from whoever pushed the artifact, so each is checked before anything is written.
import { lstat, realpath } from 'node:fs/promises'
import * as path from 'node:path'
import { InputError } from '../errors/errors.js'
import { Annotation } from '../oci/media-types.js'
import type { Descriptor, ImageManifest } from '../oci/types.js'

/** One titled layer: a file, or a directory packed as tar+gzip. */
export interface ArtifactFile {
  desc: Descriptor
  /** The title, normalised: relative, `/`-separated, no `.` or `..` segments. */
  name: string
  /** A directory to unpack, with the digest of its tar when the pusher recorded it. */
  unpack?: { tarDigest?: string }
}

const UNSAFE_HINT = 'nothing was written; the artifact was pushed with an unsafe title'
const IN_THE_WAY_HINT = 'nothing was written; pull into another directory (-o DIR) or clear the way'

const refused = (title: string, why: string, hint = UNSAFE_HINT): InputError =>
  new InputError(`the artifact names a file ${JSON.stringify(title.slice(0, 200))}: ${why}`, {
    hint
  })

/** A title as a relative path inside the output directory, or a refusal. */
export function titlePath(title: string): string {
  if (title === '') throw refused(title, 'an empty name')
  if (title.includes('\0')) throw refused(title, 'a NUL character in its name')
  if (title.startsWith('/') || /^[A-Za-z]:[\\/]/.test(title) || title.startsWith('\\'))
    throw refused(title, 'an absolute path, outside the output directory')
  const parts = title.split(/[\\/]/)
  if (parts.includes('..')) throw refused(title, 'a ".." in its path, outside the output directory')
  const name = parts.filter((p) => p !== '' && p !== '.').join('/')
  if (name === '') throw refused(title, 'it names the output directory itself')
  return name
}

/**
 * The titled layers of an image manifest, titles checked: none unsafe, no two the same, none
 * inside another (a file cannot also be a directory). Untitled layers are not files (oras skips them).
 */
export function artifactFiles(manifest: ImageManifest): ArtifactFile[] {
  const files: ArtifactFile[] = []
  const seen = new Map<string, string>()
  for (const desc of manifest.layers) {
    const title = desc.annotations?.[Annotation.Title]
    if (title === undefined) continue
    const name = titlePath(title)
    const key = name
    if (seen.has(key))
      throw refused(title, `two layers carry this title (${seen.get(key)} and ${desc.digest})`)
    seen.set(key, desc.digest)
    const unpack = desc.annotations?.[Annotation.Unpack] === 'true'
    files.push({
      desc,
      name,
      ...(unpack ? { unpack: { tarDigest: desc.annotations?.[Annotation.TarDigest] } } : {})
    })
  }
  for (const f of files)
    for (const g of files)
      if (g.name.startsWith(`${f.name}/`))
        throw refused(g.name, `it lies inside ${f.name}, which the artifact also names`)
  return files
}

const inside = (root: string, p: string): boolean =>
  p === root || p.startsWith(root.endsWith(path.sep) ? root : `${root}${path.sep}`)

/**
 * Checks where each file will land under `outDir` as the disk stands now: an existing symbolic
 * link on the way (or in the file's place) must lead inside `outDir`, and nothing on the way may
 * be a file. Refuses before anything is written.
 */
export async function checkTargets(outDir: string, files: ArtifactFile[]): Promise<void> {
  const root = await realpath(outDir).catch(() => undefined)
  // An output directory that does not exist yet holds no links.
  if (root === undefined) return
  for (const f of files) {
    let at = root
    const parts = f.name.split('/')
    for (const [i, part] of parts.entries()) {
      const next = path.join(at, part)
      const st = await lstat(next).catch(() => undefined)
      if (!st) break
      const last = i === parts.length - 1
      if (st.isSymbolicLink()) {
        const real = await realpath(next).catch(() => undefined)
        if (real === undefined || !inside(root, real))
          throw refused(
            f.name,
            `${path.join(outDir, ...parts.slice(0, i + 1))} is a symbolic link that leads ${real === undefined ? 'nowhere' : `outside the output directory (to ${real})`}`,
            IN_THE_WAY_HINT
          )
        at = real
      } else at = next
      const kind = await lstat(at)
      if (!last && !kind.isDirectory())
        throw refused(
          f.name,
          `${path.join(outDir, ...parts.slice(0, i + 1))} is not a directory`,
          IN_THE_WAY_HINT
        )
      if (last && !f.unpack && kind.isDirectory())
        throw refused(
          f.name,
          `${path.join(outDir, f.name)} is a directory; a file goes there`,
          IN_THE_WAY_HINT
        )
      if (last && f.unpack && !kind.isDirectory())
        throw refused(
          f.name,
          `${path.join(outDir, f.name)} exists and is not a directory`,
          IN_THE_WAY_HINT
        )
    }
  }
}
