import { existsSync } from 'node:fs'
import { InputError } from '../errors/errors.js'
import { isDigest } from './digest.js'

const REPO_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*'
const REPOSITORY_RE = new RegExp(`^${REPO_COMPONENT}(?:/${REPO_COMPONENT})*$`)
const TAG_RE = /^[\w][\w.-]{0,127}$/
const HOST_RE =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/

/** What a tag may hold, for messages. */
export const TAG_RULE = 'tags are up to 128 of [A-Za-z0-9_.-], not starting with . or -'

export function isTag(s: string): boolean {
  return TAG_RE.test(s)
}

/** A parsed `host/repository[:tag][@digest]`. */
export interface Reference {
  /** The registry as the user named it (`docker.io`, `localhost:5000`). */
  registry: string
  repository: string
  tag?: string
  digest?: string
}

export function formatReference(ref: Reference): string {
  let s = `${ref.registry}/${ref.repository}`
  if (ref.tag) s += `:${ref.tag}`
  if (ref.digest) s += `@${ref.digest}`
  return s
}

/** Docker's rule: the first component names a host when it has a dot, a port, or is localhost. */
export function looksLikeHost(component: string): boolean {
  return (
    component.includes('.') ||
    component.includes(':') ||
    component === 'localhost' ||
    component.startsWith('[')
  )
}

/**
 * Combines the `registry` and `reference` inputs. `reference` may be fully qualified, in which
 * case `registry` may be empty; when both name a host they must agree.
 */
export function parseReference(reference: string, registry = ''): Reference {
  const input = reference.trim()
  registry = registry
    .trim()
    .replace(/^(?:https?:\/\/)/, '')
    .replace(/\/+$/, '')
  if (!input)
    throw new InputError('the reference input is empty', {
      hint: 'set it to REPOSITORY[:TAG], e.g. org/app:v1'
    })

  let rest = input
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!isDigest(digest))
      throw new InputError(`reference "${input}" has an invalid digest "${digest}"`, {
        hint: 'use @sha256:<64 hex>'
      })
  }
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!isTag(tag))
      throw new InputError(`reference "${input}" has an invalid tag "${tag}"`, {
        hint: TAG_RULE
      })
  }
  let host = ''
  const firstSlash = rest.indexOf('/')
  if (firstSlash > 0 && looksLikeHost(rest.slice(0, firstSlash))) {
    host = rest.slice(0, firstSlash)
    rest = rest.slice(firstSlash + 1)
  }
  if (host && registry && host.toLowerCase() !== registry.toLowerCase()) {
    throw new InputError(
      `reference "${input}" names registry ${host} but the registry input is ${registry}`,
      {
        hint: 'leave the registry input empty, or drop the host from the reference'
      }
    )
  }
  host ||= registry
  if (!host)
    throw new InputError(`no registry given for "${input}"`, {
      hint: 'set the registry input (e.g. ghcr.io) or use a full reference such as ghcr.io/org/app:v1'
    })
  if (!HOST_RE.test(host))
    throw new InputError(`invalid registry "${host}"`, {
      hint: 'expected host[:port], e.g. ghcr.io or localhost:5000'
    })
  // Docker Hub's single-name repositories live under library/.
  if (isDockerHub(host) && !rest.includes('/')) rest = `library/${rest}`
  if (!REPOSITORY_RE.test(rest)) {
    throw new InputError(`invalid repository name "${rest}" in "${input}"`, {
      hint: 'repository names are lowercase letters, digits and separators (. _ __ -), joined by /'
    })
  }
  return { registry: host, repository: rest, tag, digest }
}

export function isDockerHub(host: string): boolean {
  return host === 'docker.io' || host === 'index.docker.io' || host === 'registry-1.docker.io'
}

/** The host to send API requests to. */
export function apiHost(registry: string): string {
  return isDockerHub(registry) ? 'registry-1.docker.io' : registry
}

export function isLoopbackHost(registry: string): boolean {
  const host = registry
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host)
}

/** A layout path with its optional `:TAG` or `@digest` selector. */
export interface LayoutSpec {
  path: string
  tag?: string
  digest?: string
}

/**
 * Splits `path[:TAG|@digest]` the way `oras cp --from-oci-layout` does. A string that names an
 * existing path as a whole is that path; a Windows drive letter is never a tag.
 */
export function parseLayoutSpec(
  spec: string,
  pathExists: (p: string) => boolean = existsSync
): LayoutSpec {
  const s = spec.trim()
  if (!s)
    throw new InputError('the layout input is empty', {
      hint: 'set it to the OCI layout tar or directory, e.g. app.tar or app.tar:v1'
    })
  if (pathExists(s)) return { path: s }
  const at = s.lastIndexOf('@')
  if (at > 0 && isDigest(s.slice(at + 1))) return { path: s.slice(0, at), digest: s.slice(at + 1) }
  // `app.tar@sha256:0000`: a digest cut short, not a file name with a colon in it.
  if (at > 0 && /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[^/\\]*$/.test(s.slice(at + 1)))
    throw new InputError(`layout "${s}" has an invalid digest "${s.slice(at + 1)}"`, {
      hint: 'a digest is sha256: followed by 64 hex digits; copy it whole, or select by :TAG'
    })
  const colon = s.lastIndexOf(':')
  const candidate = s.slice(colon + 1)
  const isDrive = colon === 1 && /^[A-Za-z]$/.test(s[0])
  if (colon > 0 && !isDrive && isTag(candidate)) return { path: s.slice(0, colon), tag: candidate }
  return { path: s }
}
