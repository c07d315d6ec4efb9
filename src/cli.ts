#!/usr/bin/env node
// Command-line entry: the same engine outside GitHub Actions.
import { describeError } from './errors/errors.js'
import type { CopyEvent } from './copy/copy.js'
import { engineOptions, readSettings, type InputName } from './inputs.js'
import { pull } from './transfer/pull.js'
import { push } from './transfer/push.js'
import { TransferReport } from './report.js'
import { VERSION } from './version.js'
import { UsageError } from './commands/common.js'
import { orasCommand } from './commands/index.js'

/** A flag: an input of the action, with the one line --help says of it. */
interface Flag {
  /** What the value looks like; none for a boolean flag (`--referrers` alone is true). */
  value?: string
  text: string
  /** Given more than once, the values add up (lists). */
  list?: boolean
}

/**
 * Inputs that are no flag: the command is the direction; the job summary is the action's; the
 * merged index's annotations are `oci-layout merge --annotation`.
 */
type FlagName = Exclude<InputName, 'direction' | 'summary' | 'annotations'>

/** Every other input is a flag of the same name (the type checks that none is left out). */
const FLAGS: Record<FlagName, Flag> = {
  layout: {
    value: 'PATH[:TAG|@DIGEST]',
    text: 'push: the layout to read (directory, tar or gzip tar); pull: where to write'
  },
  reference: {
    value: '[HOST/]REPO[:TAG]',
    text: 'the repository and tag on the registry; for a pull also REPO@DIGEST'
  },
  registry: { value: 'HOST[:PORT]', text: 'the registry, when --reference does not name it' },
  // The action's direction: copy; on the command line that is `oci-layout cp SRC DST`.
  source: {
    value: 'HOST/REPO[:TAG|@DIGEST]',
    text: "the action's copy: the image to copy (here: oci-layout cp SRC DST)"
  },
  'source-username': {
    value: 'USER',
    text: "the action's copy: user for the source's registry (cp: --from-username)"
  },
  'source-password': {
    value: 'PASS',
    text: "the action's copy: its password or token (cp: --from-password)"
  },
  username: {
    value: 'USER',
    text: "registry user; default: docker's config.json, podman's auth.json, anonymous"
  },
  password: { value: 'PASS', text: 'its password or token (or set OCI_PASSWORD)' },
  'github-token': {
    value: 'TOKEN',
    text: 'for ghcr.io when no other credentials are found (user: $GITHUB_ACTOR)'
  },
  tags: {
    value: 'LIST',
    text: 'push: more tags, bare or full references; comma-separated or repeated',
    list: true
  },
  'mount-from': {
    value: 'LIST',
    text: 'push: repositories of the same registry to mount blobs from; comma-separated or repeated',
    list: true
  },
  referrers: { text: 'carry referrers (signatures, SBOMs, attestations) along' },
  'artifact-type': {
    value: 'TYPE',
    text: 'pull with --referrers: only referrers of this artifact type'
  },
  platform: { value: 'OS/ARCH[/VARIANT]', text: "pull: only this platform's manifest of an index" },
  'plain-http': {
    value: 'auto|true|false',
    text: 'talk plain HTTP (auto, the default: to loopback hosts only)'
  },
  'ca-file': { value: 'FILE', text: "PEM CA certificates to trust besides the system's" },
  insecure: { text: 'skip TLS certificate verification (prefer --ca-file)' },
  concurrency: { value: 'N', text: 'how many blobs move at once (default 8)' },
  retries: {
    value: 'N',
    text: 'tries after a failed request or transfer, with backoff (default 5)'
  },
  'chunk-size': {
    value: 'SIZE',
    text: 'upload blobs above SIZE in resumable chunks of it, e.g. 256MiB (default 0: whole)'
  },
  files: {
    value: 'PATH',
    text: "the action's artifact files; here: push REF FILE... and pull REF -o DIR",
    list: true
  },
  subject: { value: 'REF', text: "the action's referrer subject; here: attach SUBJECT FILE..." }
}

const flagNamed = (name: string): Flag | undefined =>
  Object.hasOwn(FLAGS, name) ? FLAGS[name as FlagName] : undefined
const isBoolean = (f: Flag): boolean => f.value === undefined

const USAGE = `usage: oci-layout push --layout PATH[:TAG|@DIGEST] --reference [HOST/]REPO[:TAG] [options]
       oci-layout pull --reference [HOST/]REPO[:TAG|@DIGEST] --layout DIR|FILE.tar|FILE.tar.gz[:TAG] [options]
       oci-layout cp [--from-oci-layout] SRC [--to-oci-layout] DST [-r] [--platform P]
       oci-layout push REF FILE[:MEDIATYPE]... [--artifact-type T] [--annotation K=V]...
       oci-layout attach SUBJECT FILE... --artifact-type T
       oci-layout merge LAYOUT... (--to-oci-layout DIR[:TAG] | REF) [--annotation K=V]...
       oci-layout pull REF [-o DIR] | pull --oci-layout PATH[:TAG|@DIGEST] [-o DIR]
       oci-layout --help | --version`

function help(): string {
  const rows: [string, string][] = [
    ...Object.entries(FLAGS).map(([name, f]): [string, string] => [
      `--${name} ${f.value ?? '[true|false]'}`,
      f.text
    ]),
    ['-h, --help', 'print this help and exit'],
    ['--version', 'print the version and exit']
  ]
  const width = Math.max(...rows.map(([l]) => l.length)) + 2
  return [
    USAGE,
    '',
    'Pushes an OCI image layout to a registry byte for byte, or pulls one back; prints the digest.',
    '',
    'options:',
    ...rows.map(([l, text]) => `  ${l.padEnd(width)}${text}`),
    '',
    'A flag is given as --name VALUE or --name=VALUE; --referrers and --insecure alone mean true.',
    'The command is the direction (a --direction flag must agree with it); there is no job summary.',
    'Exit status: 0 on success, 1 when the push or pull failed, 2 when the command line is wrong.',
    '',
    "cp, push REF FILE..., attach and pull REF take oras's forms and print as oras does",
    '(Digest: sha256:… last; --format json for a program); their flags are in the README.'
  ].join('\n')
}

interface CommandLine {
  command?: string
  values: Partial<Record<InputName, string>>
  help: boolean
  version: boolean
}

function parseCommandLine(argv: string[]): CommandLine {
  const out: CommandLine = { values: {}, help: false, version: false }
  const positionals: { arg: string; after?: string }[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1).map((a) => ({ arg: a })))
      break
    }
    if (arg === '-h' || arg === '--help') out.help = true
    else if (arg === '--version') out.version = true
    else if (!arg.startsWith('-') || arg === '-') positionals.push({ arg, after: argv[i - 1] })
    else {
      const eq = arg.indexOf('=')
      const given = eq < 0 ? arg : arg.slice(0, eq)
      const name = given.slice(2)
      if (!given.startsWith('--')) throw new UsageError(`unknown option ${given}`)
      if (name === 'summary')
        throw new UsageError(
          '--summary is the job summary of the action; the command line writes none'
        )
      // --direction is read only to be checked against the command.
      const flag = name === 'direction' ? { value: 'push|pull', text: '' } : flagNamed(name)
      if (!flag) throw new UsageError(`unknown option ${given}`)
      let value: string
      const next = argv[i + 1]
      if (eq >= 0) value = arg.slice(eq + 1)
      else if (isBoolean(flag)) {
        // `--referrers` alone is true; `--referrers false` still reads as written.
        value = next !== undefined && /^(true|false)$/i.test(next) ? argv[++i] : 'true'
      } else if (next === undefined || next.startsWith('--'))
        throw new UsageError(`option ${given} needs a value`)
      else value = argv[++i]
      const had = out.values[name as InputName]
      out.values[name as InputName] = flag.list && had !== undefined ? `${had}\n${value}` : value
    }
  }
  if (out.help || out.version) return out
  const [first, ...rest] = positionals
  if (!first) throw new UsageError('no command given: push or pull', true)
  if (first.arg !== 'push' && first.arg !== 'pull')
    throw new UsageError(`unknown command ${first.arg}: push or pull`)
  out.command = first.arg
  if (rest.length) {
    const { arg, after } = rest[0]
    const flag = after?.startsWith('--') ? flagNamed(after.slice(2)) : undefined
    throw new UsageError(
      `unexpected argument ${arg}` +
        (flag && isBoolean(flag) ? ` (${after} takes true, false or no value)` : '')
    )
  }
  const direction = out.values.direction?.trim().toLowerCase()
  if (direction !== undefined && direction !== out.command)
    throw new UsageError(
      `--direction ${out.values.direction} contradicts the command ${out.command}: drop --direction, the command says which way`
    )
  return out
}

async function main(argv: string[]): Promise<number> {
  const oras = orasCommand(argv)
  if (oras) return oras(argv.slice(1))
  const line = parseCommandLine(argv)
  if (line.help) {
    process.stdout.write(`${help()}\n`)
    return 0
  }
  if (line.version) {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const command = line.command as 'push' | 'pull'
  const get = (name: InputName): string => {
    if (name === 'direction') return command
    const v = line.values[name]
    if (name === 'password' && v === undefined) return process.env.OCI_PASSWORD ?? ''
    return v ?? ''
  }
  const s = readSettings(get)
  if (s.files.length || s.subject)
    throw new UsageError(
      `--${s.subject ? 'subject' : 'files'} is the action's input: on the command line, artifact files go with push REF FILE..., attach SUBJECT FILE... and pull REF -o DIR`
    )
  const say = (text: string): void => void process.stderr.write(`${text}\n`)
  for (const w of s.warnings) say(`warning: ${w}`)
  for (const n of s.notices) say(n)
  const target = `${s.registry ? `${s.registry}/` : ''}${s.reference}`
  const report = new TransferReport(s.direction === 'push', target)
  const common = {
    ...engineOptions(s),
    // Only tallied: the closing lines say what moved where.
    onEvent: (e: CopyEvent) => void report.note(e),
    onNotice: say,
    onWarning: (w: string) => say(`warning: ${w}`)
  }
  const result =
    s.direction === 'push'
      ? await push({ ...common, tags: s.tags, mountFrom: s.mountFrom })
      : await pull({ ...common, platform: s.platform })
  for (const l of report.closing(result)) say(l)
  process.stdout.write(`${result.digest}\n`)
  return 0
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(
        err.showUsage
          ? `error: ${err.message}\n${USAGE}\n`
          : `error: ${err.message} (see oci-layout --help)\n`
      )
      process.exit(2)
    }
    process.stderr.write(`error: ${describeError(err)}\n`)
    process.exit(1)
  }
)
