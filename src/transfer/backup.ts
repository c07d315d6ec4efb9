// `oras backup` and `oras restore`: several tags of a repository, with their referrers, to one
// layout (a directory or a tar) and back, each tag through the ordinary pull and push.
import { mkdtemp, rename, rm } from 'node:fs/promises'
import * as path from 'node:path'
import { InputError } from '../errors/errors.js'
import { LayoutSource } from '../layout/layout-source.js'
import { packLayout } from '../layout/tar-export.js'
import { formatReference, parseReference } from '../oci/reference.js'
import type { RegistryOptions } from './options.js'
import { pull } from './pull.js'
import { push } from './push.js'

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
  try {
    const out: BackedUp[] = []
    for (const tag of tags) {
      const r = await pull({
        ...opts,
        reference: formatReference({ ...ref, tag }),
        layout: `${dir}:${tag}`,
        referrers: opts.referrers ?? true
      })
      out.push({ tag, digest: r.digest, reference: r.reference })
    }
    if (tar) {
      const temp = `${opts.layout}.${process.pid}.partial`
      await packLayout(dir, temp, /gz$/i.test(opts.layout))
      await rename(temp, opts.layout)
    }
    return out
  } finally {
    if (tar) await rm(dir, { recursive: true, force: true })
  }
}

/** Pushes each tag of a layout (all, or those asked) with its referrers to the repository. */
export async function restore(opts: BackupOptions): Promise<BackedUp[]> {
  const { repository, tags: asked } = splitTagList(opts.reference)
  const source = await LayoutSource.open(opts.layout)
  let tags: string[]
  try {
    tags = asked.length ? asked : source.tags()
  } finally {
    await source.close()
  }
  if (!tags.length)
    throw new InputError(`${opts.layout} has no tagged image to restore`, {
      hint: 'a backup names each image by tag (org.opencontainers.image.ref.name)'
    })
  const out: BackedUp[] = []
  for (const tag of tags) {
    const r = await push({
      ...opts,
      layout: `${opts.layout}:${tag}`,
      reference: `${repository}:${tag}`,
      referrers: opts.referrers ?? true
    })
    out.push({ tag, digest: r.digest, reference: r.reference })
  }
  return out
}
