// What the oras-style commands share: reading a command line, and printing a result as oras
// does (lines, the digest last) or as JSON (--format json).
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { parseAnnotations } from '../oci/merge-index.js'

/** A command line that cannot be read: exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly showUsage = false
  ) {
    super(message)
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>

/** The command's flags and positionals; an unknown flag or a missing value is a UsageError. */
export function readArgs(
  argv: string[],
  options: Options
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...options, format: { type: 'string' } },
      allowPositionals: true,
      strict: true
    })
    return {
      values: values,
      positionals
    }
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0])
  }
}

/** What a command did: oras's lines for a person, the same as JSON for a program. */
export interface CommandResult {
  lines: string[]
  digest?: string
  json: Record<string, unknown>
}

/** Refuses a --format other than text or json: called before the work, so none is wasted. */
export function checkFormat(format: unknown): void {
  if (format !== undefined && format !== 'text' && format !== 'json')
    throw new UsageError(`--format must be text or json, not ${String(format)}`)
}

/** Writes a result to stdout in the format asked for: `text` (default) or `json`. */
export function printResult(result: CommandResult, format: unknown): void {
  checkFormat(format)
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`)
    return
  }
  const lines = [...result.lines]
  if (result.digest) lines.push(`Digest: ${result.digest}`)
  process.stdout.write(lines.map((l) => `${l}\n`).join(''))
}

/** The registry flags the commands share: --username, --password (or OCI_PASSWORD), --plain-http. */
export const REGISTRY_OPTIONS: Options = {
  username: { type: 'string', short: 'u' },
  password: { type: 'string', short: 'p' },
  'plain-http': { type: 'boolean' }
}

type Values = ReturnType<typeof readArgs>['values']

/** Credentials go as a pair; OCI_PASSWORD stands in for --password, only beside a --username. */
export function registryFlags(values: Values): {
  username?: string
  password?: string
  plainHttp: 'true' | 'auto'
} {
  const username = typeof values.username === 'string' ? values.username : undefined
  const given = typeof values.password === 'string' ? values.password : undefined
  if (given !== undefined && username === undefined)
    throw new UsageError('--password goes with --username')
  const password = username === undefined ? undefined : (given ?? process.env.OCI_PASSWORD)
  if (username !== undefined && password === undefined)
    throw new UsageError('--username goes with --password (or OCI_PASSWORD)')
  return { username, password, plainHttp: values['plain-http'] === true ? 'true' : 'auto' }
}

/** `--annotation K=V` flags, read as the action reads its annotations; one without `=` is a usage error. */
export function annotationFlags(values: Values): Record<string, string> {
  const list = Array.isArray(values.annotation) ? values.annotation : []
  for (const a of list)
    if (a.indexOf('=') <= 0) throw new UsageError(`--annotation ${a} is not KEY=VALUE`)
  return parseAnnotations(list)
}
