import { InputError } from '../errors/errors.js'
import { isTag, looksLikeHost, parseReference, TAG_RULE, type Reference } from '../oci/reference.js'

// Where a push goes: the repositories named by `reference` and `tags`, and where their blobs may be mounted from.

/** A repository the push writes, with the tags it gets there. */
export interface Destination {
  ref: Reference
  tags: string[]
}

/** Groups the reference and extra tags by repository, the reference's first. */
export function destinations(
  primary: Reference,
  primaryTag: string | undefined,
  extra: string[]
): Destination[] {
  const out = new Map<string, Destination>()
  const add = (ref: Reference, tag: string | undefined): void => {
    const key = `${ref.registry}/${ref.repository}`
    const d = out.get(key) ?? {
      ref: { registry: ref.registry, repository: ref.repository },
      tags: []
    }
    if (tag && !d.tags.includes(tag)) d.tags.push(tag)
    out.set(key, d)
  }
  add(primary, primaryTag)
  for (const t of extra) {
    if (isTag(t)) add(primary, t)
    else if (!t.includes('/'))
      // No repository in it, so it was meant as a tag of the reference's repository.
      throw new InputError(`"${t}" in tags is not a valid tag`, {
        hint: `${TAG_RULE}; or give a full reference such as ghcr.io/org/app:v1`
      })
    else {
      const ref = parseReference(t)
      if (ref.digest)
        throw new InputError(`tag ${t} names a digest`, {
          hint: 'list tags or full references with a tag'
        })
      add(ref, ref.tag ?? 'latest')
    }
  }
  return [...out.values()]
}

/** The mount-from repositories by registry; each must be on a registry the push goes to. */
export function mountSources(
  entries: string[],
  defaultRegistry: string,
  targets: Destination[]
): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const entry of entries) {
    // A host of its own (another registry of `tags`), else the reference's.
    const first = entry.trim().split('/')[0]
    const ref = parseReference(
      entry,
      entry.includes('/') && looksLikeHost(first) ? '' : defaultRegistry
    )
    if (ref.tag || ref.digest)
      throw new InputError(`mount-from ${entry} names a tag or digest`, {
        hint: 'list repositories only, e.g. org/app or ghcr.io/org/app'
      })
    if (!targets.some((t) => t.ref.registry === ref.registry))
      throw new InputError(
        `mount-from ${entry} is on ${ref.registry}, which this push does not go to`,
        {
          hint: 'blobs can be mounted only from a repository of the registry they are pushed to'
        }
      )
    const list = out.get(ref.registry) ?? []
    if (!list.includes(ref.repository)) list.push(ref.repository)
    out.set(ref.registry, list)
  }
  return out
}
