// `oci-layout backup` and `restore`: oras 1.3's forms, several tags of a repository to one
// layout and back.
import { backup, restore, type BackedUp } from '../transfer/backup.js'
import {
  checkFormat,
  printResult,
  readArgs,
  registryFlags,
  REGISTRY_OPTIONS,
  UsageError,
  type Options
} from './common.js'

const OPTIONS: Options = {
  output: { type: 'string', short: 'o' },
  input: { type: 'string', short: 'i' },
  'exclude-referrers': { type: 'boolean' },
  ...REGISTRY_OPTIONS
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
    const say = (line: string): void => void process.stderr.write(`${line}\n`)
    const opts = {
      reference: positionals[0],
      layout,
      ...registryFlags(values),
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
