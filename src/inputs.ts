import { InputError } from './content/errors.js'
import type { RegistryOptions } from './push.js'
import type { PlainHttp } from './registry/client.js'

/** The action's inputs, named as in action.yml; the CLI takes the same names as flags. */
export const INPUT_NAMES = [
  'direction',
  'layout',
  'registry',
  'reference',
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
  'artifact-type'
] as const
export type InputName = (typeof INPUT_NAMES)[number]

export interface Settings {
  direction: 'push' | 'pull'
  layout: string
  registry: string
  reference: string
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
}

/**
 * Reads and checks every input. An empty input means its default, as on the runner, so a local
 * run without action.yml's defaults behaves the same.
 */
export function readSettings(get: (name: InputName) => string): Settings {
  const direction = (get('direction').trim() || 'push').toLowerCase()
  if (direction !== 'push' && direction !== 'pull') {
    throw new InputError(`direction must be push or pull, not "${direction}"`)
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
  const layout = get('layout').trim()
  if (!layout)
    throw new InputError('the layout input is empty', {
      hint: 'set it to the OCI layout tar or directory, e.g. app.tar or app.tar:v1'
    })
  const username = get('username').trim()
  const password = get('password')
  if ((username === '') !== (password === '')) {
    throw new InputError(
      username
        ? `a username (${username}) was given without a password`
        : 'a password was given without a username',
      {
        hint: 'set both username and password, or neither for anonymous access'
      }
    )
  }
  return {
    direction,
    layout,
    registry: get('registry').trim(),
    reference: get('reference').trim(),
    username,
    password,
    plainHttp,
    concurrency,
    platform: get('platform').trim() || undefined,
    githubToken: get('github-token').trim(),
    caFile: get('ca-file').trim() || undefined,
    insecure: readBoolean(get('insecure'), 'insecure'),
    retries: readInteger(get('retries'), 'retries', 0, 20),
    chunkSize: readSize(get('chunk-size')),
    tags: splitTags(get('tags')),
    mountFrom: splitTags(get('mount-from')),
    referrers: readBoolean(get('referrers'), 'referrers'),
    artifactType: get('artifact-type').trim() || undefined,
    summary: get('summary').trim() === '' || readBoolean(get('summary'), 'summary')
  }
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

/** `256MiB`, `64m`, `1048576`; `0` turns chunking off. */
function readSize(value: string): number | undefined {
  const v = value.trim()
  if (!v) return undefined
  const m = /^(\d+)\s*([a-z]*)$/i.exec(v)
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined
  if (!m || unit === undefined)
    throw new InputError(`chunk-size must be a size such as 256MiB, 64m or 0, not "${v}"`)
  return Number(m[1]) * unit
}

/** Splits a list input (`tags`, `mount-from`): newlines (CRLF too) or commas; blanks dropped. */
export function splitTags(value: string): string[] {
  return value
    .split(/[\r\n,]+/)
    .map((t) => t.trim())
    .filter(Boolean)
}
