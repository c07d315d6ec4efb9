// `oci-layout backup` and `restore`: oras 1.3's forms, several tags of a repository to one
// layout and back.
import { backup, restore, type BackedUp } from '../transfer/backup.js'
import { checkFormat, printResult, readArgs, UsageError, type Options } from './common.js'

const OPTIONS: Options = {
  output: { type: 'string', short: 'o' },
  input: { type: 'string', short: 'i' },
  'exclude-referrers': { type: 'boolean' },
  username: { type: 'string', short: 'u' },
  password: { type: 'string', short: 'p' },
  'plain-http': { type: 'boolean' }
}

function run(kind: 'backup' | 'restore'): (argv: string[]) => Promise<number> {
  const file = kind === 'backup' ? 'output' : 'input'
  const usage = `oci-layout ${kind} --${file} PATH [--exclude-referrers] HOST/REPO${kind === 'backup' ? ':TAG[,TAG...]' : '[:TAG[,TAG...]]'}`
  return async (argv) => {
    const { values, positionals } = readArgs(argv, OPTIONS)
    checkFormat(values.format)
    const layout = values[file]
    if (positionals.length !== 1 || typeof layout !== 'string')
      throw new UsageError(`${kind} takes --${file} PATH and one reference: ${usage}`)
    const username = values.username as string | undefined
    const password = (values.password as string | undefined) ?? process.env.OCI_PASSWORD
    if ((username === undefined) !== (password === undefined))
      throw new UsageError('--username and --password go together')
    const say = (line: string): void => void process.stderr.write(`${line}\n`)
    const opts = {
      reference: positionals[0],
      layout,
      username,
      password,
      plainHttp: values['plain-http'] === true ? ('true' as const) : ('auto' as const),
      referrers: values['exclude-referrers'] !== true,
      onNotice: say,
      onWarning: (line: string) => say(`warning: ${line}`)
    }
    const done: BackedUp[] = kind === 'backup' ? await backup(opts) : await restore(opts)
    const [from, to] =
      kind === 'backup'
        ? [`[registry] ${positionals[0]}`, `[oci-layout] ${layout}`]
        : [`[oci-layout] ${layout}`, `[registry] ${positionals[0]}`]
    printResult(
      {
        lines: [
          ...done.map(
            (d) => `${kind === 'backup' ? 'Backed up' : 'Restored'} ${d.tag}: ${d.digest}`
          ),
          `${kind === 'backup' ? 'Backed up' : 'Restored'} ${from} => ${to}`
        ],
        json: { [kind === 'backup' ? 'backedUp' : 'restored']: done }
      },
      values.format
    )
    return 0
  }
}

export const backupCommand = run('backup')
export const restoreCommand = run('restore')
