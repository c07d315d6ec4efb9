// The commands that take oras's forms (`cp SRC DST`, `pull REF`, `push REF FILE...`, ...),
// beside the flag forms `push --layout` / `pull --layout` that cli.ts reads itself.
import { backupCommand, restoreCommand } from './backup.js'
import { cp } from './cp.js'
import { mergeCommand } from './merge.js'
import { pullCommand } from './pull.js'
import { attachCommand, pushFilesCommand } from './push-files.js'

/** A command: runs with the arguments after its name; resolves to the exit status. */
export type Command = (argv: string[]) => Promise<number>

const COMMANDS: Record<string, Command> = {
  push: pushFilesCommand,
  pull: pullCommand,
  attach: attachCommand,
  cp,
  backup: backupCommand,
  restore: restoreCommand,
  merge: mergeCommand
}

/** `push --layout …` and `pull --reference …`: the flag forms, which cli.ts reads. */
const FLAG_FORM = /^--(layout|reference)(=|$)/

/** The command for this command line, or undefined when it is one of cli.ts's flag forms. */
export function orasCommand(argv: string[]): Command | undefined {
  const [name, ...rest] = argv
  if (name === undefined || !Object.hasOwn(COMMANDS, name)) return undefined
  if ((name === 'push' || name === 'pull') && rest.some((a) => FLAG_FORM.test(a))) return undefined
  // `push REF FILE...` has two words at least; fewer is the flag form gone wrong (`push --foo`).
  if (name === 'push' && rest.filter((a) => !a.startsWith('-')).length < 2) return undefined
  return COMMANDS[name]
}

/** The names, for the usage line. */
export const COMMAND_NAMES = Object.keys(COMMANDS)
