#!/usr/bin/env node
// Command-line entry: the same engine outside GitHub Actions.
import { parseArgs } from 'node:util'
import { describeError, InputError } from './content/errors.js'
import { formatBytes } from './format.js'
import { engineOptions, INPUT_NAMES, readSettings, type InputName } from './inputs.js'
import { pull } from './pull.js'
import { push } from './push.js'

const USAGE = `usage: oci-layout push --layout PATH[:TAG|@DIGEST] --reference [HOST/]REPO[:TAG] [options]
       oci-layout pull --reference [HOST/]REPO[:TAG|@DIGEST] --layout DIR|FILE.tar|FILE.tar.gz[:TAG] [--platform OS/ARCH[/VARIANT]] [options]
options: [--registry HOST] [--username USER --password PASS] [--plain-http auto|true|false] [--concurrency N]
The password may also come from the OCI_PASSWORD environment variable.`

async function main(argv: string[]): Promise<number> {
  const options = Object.fromEntries(INPUT_NAMES.map((n) => [n, { type: 'string' as const }]))
  const parsed = parseArgs({
    args: argv,
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true
  })
  const values = parsed.values as Record<string, string | boolean | undefined>
  const positionals = parsed.positionals
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const command = positionals[0] ?? ''
  if (command !== 'push' && command !== 'pull')
    throw new InputError(`unknown command "${command}"`, { hint: USAGE.split('\n')[0] })
  const get = (name: InputName): string => {
    if (name === 'direction') return command
    const v = values[name]
    if (name === 'password' && typeof v !== 'string') return process.env.OCI_PASSWORD ?? ''
    return typeof v === 'string' ? v : ''
  }
  const s = readSettings(get)
  const common = {
    ...engineOptions(s),
    onNotice: (line: string) => process.stderr.write(`${line}\n`)
  }
  const result =
    s.direction === 'push'
      ? await push({ ...common, tags: s.tags, mountFrom: s.mountFrom })
      : await pull({ ...common, platform: s.platform })
  const verb = s.direction === 'push' ? 'pushed' : 'pulled'
  process.stderr.write(
    `${verb} ${result.tags[0] ?? result.reference}: ${formatBytes(result.bytesSent)} moved of ${formatBytes(result.bytesTotal)}\n`
  )
  process.stdout.write(`${result.digest}\n`)
  return 0
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${describeError(err)}\n`)
    process.exit(1)
  }
)
