import { InputError } from './errors/errors.js'
import { parseAnnotations } from './oci/merge-index.js'
import type { RegistryOptions } from './transfer/options.js'
import type { PlainHttp } from './registry/client.js'

/** The action's inputs, named as in action.yml; the CLI takes the same names as flags. */
export const INPUT_NAMES = [
  'direction',
  'layout',
  'registry',
  'reference',
  'source',
  'source-username',
  'source-password',
  'files',
  'subject',
  'username',
  'password',
  'plain-http',
  'concurrency',
  'platform',
  'github-token',
  'ca-file',
  'insecure',
  'retries',
  'chunk-size',
  'tags',
  'mount-from',
  'summary',
  'referrers',
  'artifact-type',
  'annotations'
] as const
export type InputName = (typeof INPUT_NAMES)[number]

export interface Settings {
  direction: 'push' | 'pull' | 'copy'
  /** Empty for a copy, which reads `source`. */
  layout: string
  /** A push's layouts, one a line: more than one are merged into one index. */
  layouts: string[]
  /** The merged index's annotations (`key=value` lines). */
  annotations: Record<string, string>
  registry: string
  reference: string
  /**
   * Artifact files. Push: `path[:mediaType]` each, pushed as an OCI 1.1 artifact; pull: one
   * directory the artifact's files are written to. Empty: the layout is pushed or pulled.
   */
  files: string[]
  /** Push with files: the image (a tag or digest of `reference`'s repository, or a full reference) the artifact refers to. */
  subject?: string
  /** A copy's source reference, and the credentials for its registry (empty: looked up). */
  source: string
  sourceUsername: string
  sourcePassword: string
  username: string
  password: string
  plainHttp: PlainHttp
  concurrency?: number
  platform?: string
  githubToken: string
  caFile?: string
  insecure: boolean
  retries?: number
  chunkSize?: number
  tags: string[]
  mountFrom: string[]
  summary: boolean
  referrers: boolean
  artifactType?: string
  /** Inputs that were set but do not apply, or were read differently than written: one line each. */
  warnings: string[]
  /** How an input was read, where it could be read two ways (`10MB`). */
  notices: string[]
}

/**
 * Reads and checks every input. An empty input means its default, as on the runner, so a local
 * run without action.yml's defaults behaves the same.
 */
export function readSettings(get: (name: InputName) => string): Settings {
  const direction = (get('direction').trim() || 'push').toLowerCase()
  if (direction !== 'push' && direction !== 'pull' && direction !== 'copy') {
    throw new InputError(`direction must be push, pull or copy, not "${direction}"`)
  }
  const plainHttp = (get('plain-http').trim() || 'auto').toLowerCase()
  if (plainHttp !== 'auto' && plainHttp !== 'true' && plainHttp !== 'false') {
    throw new InputError(`plain-http must be auto, true or false, not "${plainHttp}"`)
  }
  const concurrencyText = get('concurrency').trim()
  let concurrency: number | undefined
  if (concurrencyText) {
    concurrency = Number(concurrencyText)
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      throw new InputError(
        `concurrency must be a whole number from 1 to 64, not "${concurrencyText}"`
      )
    }
  }
  const warnings: string[] = []
  const copying = direction === 'copy'
  const layout = get('layout').trim()
  const layouts = layout
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
  const annotations = parseAnnotations(get('annotations').split(/\r?\n/), 'annotations line')
  const source = get('source').trim()
  const files = get('files')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
  const subject = get('subject').trim() || undefined
  const withFiles = files.length > 0 && !copying
  if (withFiles) checkFiles(direction, files, layout, subject, warnings)
  else if (subject) warnings.push(`subject (${subject}) is ignored without files on a push`)
  if (copying && files.length) warnings.push('files is ignored on a copy: it copies an image whole')
  if (!copying && !layout && !withFiles)
    throw new InputError('the layout input is empty', {
      hint: 'set it to the OCI layout tar or directory, e.g. app.tar or app.tar:v1'
    })
  if (copying && !source)
    throw new InputError('the source input is empty, and a copy reads from it', {
      hint: 'set it to the image to copy, e.g. ghcr.io/org/app:v1'
    })
  if (copying && layout)
    warnings.push(`layout (${layout}) is ignored on a copy: it reads source and writes reference`)
  const username = get('username').trim()
  const password = get('password')
  checkPair(username, password, 'username', 'password')
  const sourceUsername = get('source-username').trim()
  const sourcePassword = get('source-password')
  checkPair(sourceUsername, sourcePassword, 'source-username', 'source-password')
  if (!copying)
    for (const name of ['source', 'source-username'] as const)
      if (get(name).trim())
        warnings.push(`${name} is ignored on a ${direction}: it is for direction: copy`)
  const notices: string[] = []
  const registry = dropScheme(get('registry').trim(), 'registry', plainHttp, warnings)
  const reference = dropScheme(get('reference').trim(), 'reference', plainHttp, warnings)
  const platform = get('platform').trim() || undefined
  const tags = splitTags(get('tags'))
  const mountFrom = splitTags(get('mount-from'))
  const referrers = readBoolean(get('referrers'), 'referrers')
  const artifactType = get('artifact-type').trim() || undefined
  if (direction === 'push' && platform)
    throw new InputError(`platform (${platform}) applies to a pull; a push sends the image whole`, {
      hint: "drop the platform input, or push one platform's manifest with layout: FILE@sha256:…"
    })
  if (layouts.length > 1 && direction === 'pull')
    throw new InputError(`layout names ${layouts.length} lines; a pull writes one layout`, {
      hint: 'several layouts (one a line) are for a push, which merges them into one index'
    })
  if (Object.keys(annotations).length && (layouts.length < 2 || direction !== 'push'))
    warnings.push(
      'annotations is ignored: it annotates the index a push merges from several layouts'
    )
  if (direction === 'pull' && tags.length)
    warnings.push(
      'tags is ignored on a pull: the layout entry is tagged by the layout input (DIR:TAG or FILE.tar:TAG)'
    )
  if (direction === 'pull' && mountFrom.length)
    warnings.push('mount-from is ignored on a pull: it names where a push may mount blobs from')
  if (artifactType && !referrers && !(withFiles && direction === 'push'))
    warnings.push(`artifact-type (${artifactType}) is ignored without referrers: true`)
  return {
    direction,
    layout,
    layouts,
    annotations,
    registry,
    reference,
    source,
    sourceUsername,
    sourcePassword,
    files: withFiles ? files : [],
    subject: withFiles ? subject : undefined,
    username,
    password,
    plainHttp,
    concurrency,
    platform,
    githubToken: get('github-token').trim(),
    caFile: get('ca-file').trim() || undefined,
    insecure: readBoolean(get('insecure'), 'insecure'),
    retries: readInteger(get('retries'), 'retries', 0, 20),
    chunkSize: readSize(get('chunk-size'), notices),
    tags,
    mountFrom,
    referrers,
    artifactType,
    summary: get('summary').trim() === '' || readBoolean(get('summary'), 'summary'),
    warnings,
    notices
  }
}

/**
 * `https://ghcr.io` or `http://host/org/app:v1`: the scheme is dropped, as docker login does,
 * and said so, since it does not choose the protocol (plain-http does).
 */
function dropScheme(value: string, name: string, plainHttp: PlainHttp, warnings: string[]): string {
  const m = /^(https?):\/\//i.exec(value)
  if (!m) return value
  const rest = value.slice(m[0].length)
  const http = m[1].toLowerCase() === 'http'
  warnings.push(
    `${name} "${value}": the ${m[1].toLowerCase()}:// scheme is dropped and "${rest}" used` +
      (http && plainHttp !== 'true'
        ? '; plain HTTP is used only for loopback hosts unless plain-http is true'
        : '; the protocol is chosen by the plain-http input')
  )
  return rest
}

/** What `files` means for the direction, and the inputs it makes moot. */
function checkFiles(
  direction: string,
  files: string[],
  layout: string,
  subject: string | undefined,
  warnings: string[]
): void {
  if (direction === 'push' && layout)
    warnings.push(`layout (${layout}) is ignored: with files, the files are pushed as an artifact`)
  if (direction === 'pull' && files.length > 1)
    throw new InputError(`files names ${files.length} lines; on a pull it is one directory`, {
      hint: "set files to the directory the artifact's files go to, e.g. files: out"
    })
  if (direction === 'pull' && subject)
    warnings.push(`subject (${subject}) is ignored on a pull: it is for pushing a referrer`)
}

/** A user and a password go together: both, or neither for the lookup. */
function checkPair(username: string, password: string, user: string, pass: string): void {
  if ((username === '') === (password === '')) return
  throw new InputError(
    username
      ? `a ${user} (${username}) was given without a ${pass}`
      : `a ${pass} was given without a ${user}`,
    { hint: `set both ${user} and ${pass}, or neither to look credentials up` }
  )
}

function readBoolean(value: string, name: string): boolean {
  const v = value.trim().toLowerCase()
  if (v === '' || v === 'false') return false
  if (v === 'true') return true
  throw new InputError(`${name} must be true or false, not "${value.trim()}"`)
}

/** The engine options the settings stand for (everything but the per-adapter hooks). */
export function engineOptions(
  s: Settings,
  env: NodeJS.ProcessEnv = process.env
): RegistryOptions & { layout: string } {
  return {
    layout: s.layout,
    registry: s.registry,
    reference: s.reference,
    username: s.username,
    password: s.password,
    githubToken: s.githubToken,
    githubActor: env.GITHUB_ACTOR,
    env,
    plainHttp: s.plainHttp,
    concurrency: s.concurrency,
    caFile: s.caFile,
    insecure: s.insecure,
    retries: s.retries,
    chunkSize: s.chunkSize,
    referrers: s.referrers,
    artifactType: s.artifactType
  }
}

function readInteger(value: string, name: string, min: number, max: number): number | undefined {
  const v = value.trim()
  if (!v) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new InputError(`${name} must be a whole number from ${min} to ${max}, not "${v}"`)
  }
  return n
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3
}

/** `256MiB`, `64m`, `1048576`; `0` turns chunking off. Units are powers of 1024, as docker's. */
function readSize(value: string, notices: string[]): number | undefined {
  const v = value.trim()
  if (!v) return undefined
  const m = /^(\d+)\s*([a-z]*)$/i.exec(v)
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined
  if (!m || unit === undefined)
    throw new InputError(`chunk-size must be a size such as 256MiB, 64m or 0, not "${v}"`, {
      hint: 'units are powers of 1024: k, KB and KiB all mean 1024 bytes'
    })
  const bytes = Number(m[1]) * unit
  // `10MB` reads as 10^7 to some: say which it is.
  if (unit > 1 && !/i/i.test(m[2]))
    notices.push(
      `chunk-size ${v} is read as ${m[1]} ${['KiB', 'MiB', 'GiB'][Math.log2(unit) / 10 - 1]} (${bytes} bytes): units are powers of 1024`
    )
  return bytes
}

/** Splits a list input (`tags`, `mount-from`): newlines (CRLF too) or commas; blanks dropped. */
export function splitTags(value: string): string[] {
  return value
    .split(/[\r\n,]+/)
    .map((t) => t.trim())
    .filter(Boolean)
}
