// `oras backup` and `oras restore`: several tags of a repository, with their referrers, to one
// layout (a directory or a tar) and back, each tag through the ordinary pull and push.
import { mkdtemp, rename, rm } from 'node:fs/promises'
import * as path from 'node:path'
import { InputError } from '../errors/errors.js'
import { LayoutSource } from '../layout/layout-source.js'
import { packLayout } from '../layout/tar-export.js'
import { formatReference, parseReference } from '../oci/reference.js'
import type { RegistryOptions } from './options.js'
import { pullWith } from './pull.js'
import { checkLayoutDestination } from '../layout/layout-sink.js'
import type { RegistryClient } from '../registry/client.js'
import { pushFrom } from './push.js'
import { ClientPool, openClient } from './clients.js'
import { createLimiter } from '../copy/limiter.js'

export interface BackupOptions extends RegistryOptions {
  /** `host/repo:TAG[,TAG...]` as oras writes it, or `host/repo` with `tags`. */
  reference: string
  /** Where the layout goes: a directory, or a `.tar`, `.tar.gz` or `.tgz` file. */
  layout: string
  /** Restore: tags of the layout to push (default: all it names). */
  tags?: string[]
}

export interface BackedUp {
  tag: string
  digest: string
  reference: string
}

/** `repo:v1,v2` → the repository reference and its tags (oras's list form). */
export function splitTagList(reference: string): { repository: string; tags: string[] } {
  const slash = reference.lastIndexOf('/')
  const colon = reference.indexOf(':', slash + 1)
  if (slash < 0 || colon < 0) return { repository: reference, tags: [] }
  const tags = reference
    .slice(colon + 1)
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
  return { repository: reference.slice(0, colon), tags }
}

const TAR = /\.(tar|tar\.gz|tgz)$/i

/** Pulls each tag (with referrers) into one layout; a tar is written whole once all are in. */
export async function backup(opts: BackupOptions): Promise<BackedUp[]> {
  const { repository, tags } = splitTagList(opts.reference)
  if (!tags.length)
    throw new InputError(`${opts.reference} names no tag to back up`, {
      hint: 'name them after the repository: host/repo:v1,v2'
    })
  const ref = parseReference(repository, opts.registry)
  const tar = TAR.test(opts.layout)
  const dir = tar
    ? await mkdtemp(path.join(path.dirname(path.resolve(opts.layout)), '.backup-'))
    : opts.layout
  let client: RegistryClient | undefined
  try {
    await checkLayoutDestination(dir)
    client = await openClient(opts, ref.registry)
    const through = client
    const one = async (tag: string): Promise<BackedUp> => {
      const r = await pullWith(through, {
        ...opts,
        reference: formatReference({ ...ref, tag }),
        layout: `${dir}:${tag}`,
        referrers: opts.referrers ?? true
      })
      return { tag, digest: r.digest, reference: r.reference }
    }
    // The first tag alone (it fetches what tags share), then the rest a few at once into the
    // same directory (index.json is written under its lock).
    const out = await firstThenFew(tags, one)
    if (tar) {
      const temp = `${opts.layout}.${process.pid}.partial`
      await packLayout(dir, temp, /gz$/i.test(opts.layout))
      await rename(temp, opts.layout)
    }
    return out
  } finally {
    client?.close()
    if (tar) await rm(dir, { recursive: true, force: true })
  }
}

/** How many tags a backup or restore moves at once, after the first (which finds what they share). */
const TAGS_AT_ONCE = 4

/** `one` for the first tag alone, then for the rest a few at once; results in the tags' order. */
async function firstThenFew(
  tags: string[],
  one: (tag: string) => Promise<BackedUp>
): Promise<BackedUp[]> {
  const first = await one(tags[0])
  const limit = createLimiter(TAGS_AT_ONCE)
  // After a failure no tag starts; those started finish before it is reported, so nothing is
  // left running.
  let failed: { err: unknown } | undefined
  const rest = await Promise.allSettled(
    tags.slice(1).map((t) =>
      limit(async () => {
        if (failed) throw failed.err
        try {
          return await one(t)
        } catch (err) {
          failed ??= { err }
          throw err
        }
      })
    )
  )
  if (failed) throw failed.err
  return [first, ...rest.map((r) => (r as PromiseFulfilledResult<BackedUp>).value)]
}

/**
 * Pushes each tag of a layout (all, or those asked) with its referrers to the repository: one
 * layout read and one client for all of them, so what one tag found on the registry (the layers
 * tags share) is not asked about again. The first tag goes alone, then the rest a few at once.
 */
export async function restore(opts: BackupOptions): Promise<BackedUp[]> {
  const { repository, tags: asked } = splitTagList(opts.reference)
  const source = await LayoutSource.open(opts.layout)
  const pool = new ClientPool(opts)
  try {
    const tags = asked.length ? asked : source.tags()
    if (!tags.length)
      throw new InputError(`${opts.layout} has no tagged image to restore`, {
        hint: 'a backup names each image by tag (org.opencontainers.image.ref.name)'
      })
    const one = async (tag: string): Promise<BackedUp> => {
      const r = await pushFrom(source, pool, {
        ...opts,
        layout: `${opts.layout}:${tag}`,
        reference: `${repository}:${tag}`,
        referrers: opts.referrers ?? true
      })
      return { tag, digest: r.digest, reference: r.reference }
    }
    return await firstThenFew(tags, one)
  } finally {
    await pool.close()
    await source.close()
  }
}
