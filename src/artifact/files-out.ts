// Writes an artifact's files into a directory, all or nothing: every title is checked first,
// every file is staged beside its place (streamed and verified; directories unpacked), and only
// when all are whole are they renamed into place. A failure removes what was staged.
import { mkdir, open, rename, rm } from 'node:fs/promises'
import * as path from 'node:path'
import { BlobCursor } from '../content/blob-cursor.js'
import type { Source } from '../content/source.js'
import { LayoutError } from '../errors/errors.js'
import { fsReason, writeContentAt } from '../layout/files.js'
import { partialName, removeLeftovers } from '../layout/leftovers.js'
import { checkTargets, type ArtifactFile } from './titles.js'
import { unpackDirectory } from './unpack.js'

/** A file written: where, and what it was. */
export interface WrittenFile {
  path: string
  file: ArtifactFile
}

interface Staged {
  file: ArtifactFile
  final: string
  temp: string
}

/** Streams a blob of `source` into `temp`, verified against its descriptor before its last bytes land. */
async function download(
  source: Source,
  file: ArtifactFile,
  temp: string,
  what: string
): Promise<void> {
  const { desc } = file
  const fh = await open(temp, 'wx')
  try {
    const content = {
      size: desc.size,
      open: async () =>
        new BlobCursor(await source.open(desc), desc, what, undefined, source.mismatchHint)
    }
    await writeContentAt(fh, content, 0, what, { inOrder: true })
  } finally {
    await fh.close()
  }
}

async function stage(
  source: Source,
  file: ArtifactFile,
  outDir: string,
  created: string[]
): Promise<Staged> {
  const final = path.join(outDir, ...file.name.split('/'))
  const parent = path.dirname(final)
  try {
    const first = await mkdir(parent, { recursive: true })
    if (first !== undefined) created.push(first)
  } catch (err) {
    throw new LayoutError(`cannot create ${parent} for ${file.name} (${fsReason(err)})`, {
      hint: 'check the output directory: it must be creatable and writable'
    })
  }
  await removeLeftovers(parent, `${path.basename(final)}.`)
  const temp = partialName(final)
  const what = `${file.name} (${file.desc.digest} of ${source.name})`
  // A directory: its tgz is fetched and verified whole, then unpacked beside its place. Both
  // names are partial names, so removeLeftovers takes them after a killed run.
  const tgz = partialName(`${final}.tgz`)
  try {
    if (!file.unpack) await download(source, file, temp, what)
    else {
      await download(source, file, tgz, what)
      await unpackDirectory(tgz, temp, file.name, file.unpack.tarDigest, what)
    }
  } catch (err) {
    await rm(temp, { recursive: true, force: true })
    throw err
  } finally {
    await rm(tgz, { force: true })
  }
  return { file, final, temp }
}

/** Puts a staged file or directory in its place; a directory there is replaced as a whole. */
async function commit(s: Staged): Promise<void> {
  if (!s.file.unpack) return rename(s.temp, s.final)
  const old = partialName(s.final)
  const moved = await rename(s.final, old).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false
      throw err
    }
  )
  await rename(s.temp, s.final)
  if (moved) await rm(old, { recursive: true, force: true })
}

/**
 * Writes `files` (the titled layers of one manifest of `source`) under `outDir`. Resolves to
 * where each went; on failure nothing of this pull is left.
 */
export async function writeArtifactFiles(
  source: Source,
  files: ArtifactFile[],
  outDir: string
): Promise<WrittenFile[]> {
  await checkTargets(outDir, files)
  const staged: Staged[] = []
  // The directories this pull made, removed again when it fails.
  const created: string[] = []
  try {
    // One at a time: files are few, and each is already streamed slab by slab.
    for (const file of files) staged.push(await stage(source, file, outDir, created))
    for (const s of staged)
      await commit(s).catch((err: unknown) => {
        throw new LayoutError(`cannot put ${s.file.name} in place (${fsReason(err)})`, {
          cause: err,
          hint: 'check that the output directory is writable'
        })
      })
  } catch (err) {
    await Promise.all(staged.map((s) => rm(s.temp, { recursive: true, force: true })))
    for (const dir of created.reverse()) await rm(dir, { recursive: true, force: true })
    throw err
  }
  return staged.map((s) => ({ path: s.final, file: s.file }))
}
