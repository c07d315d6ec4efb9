// Runs the bundled action the way the runner does: `node index.js` with INPUT_* variables and a
// GITHUB_OUTPUT file.
import { execFile, type ChildProcess } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { tmpDir } from './skopeo.js'

// Built from src/ by the global set-up (__tests__/setup/bundle.mjs), so the tests see the
// sources, not a stale dist/. ACTION_BUNDLE runs another build (an older one, to show a test
// failing before its fix).
const BUNDLE_DIR = path.resolve('.cache', 'test-dist')
export const ACTION_BUNDLE = path.resolve(
  process.env.ACTION_BUNDLE ?? path.join(BUNDLE_DIR, 'index.js')
)
/** The CLI, built from src/ likewise (CLI_BUNDLE for another build). */
export const CLI_BUNDLE = path.resolve(process.env.CLI_BUNDLE ?? path.join(BUNDLE_DIR, 'cli.js'))

export interface ActionRun {
  /** The exit code, or `killed (SIGNAL): a hang` when the time limit killed it. */
  code: number | string
  stdout: string
  stderr: string
  outputs: Record<string, string>
  /** The `::error` lines of stdout. */
  errors: string[]
}

export interface RunOptions {
  /** The working directory (default: this process's). */
  cwd?: string
  /** Killed (SIGKILL) after this long; a hang shows in `code`. Default 120 s. */
  timeoutMs?: number
}

/** Parses the `name<<DELIM\nvalue\nDELIM` blocks @actions/core writes to GITHUB_OUTPUT. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (!m) continue
    const value: string[] = []
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i])
    out[m[1]] = value.join('\n')
  }
  return out
}

export async function runAction(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  opts: RunOptions = {}
): Promise<ActionRun> {
  return (await startAction(inputs, env, opts)).done
}

/** Starts the action without waiting, so a test can kill it mid-way (`child.kill('SIGKILL')`). */
export async function startAction(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  opts: RunOptions = {}
): Promise<{ child: ChildProcess; done: Promise<ActionRun> }> {
  const dir = await tmpDir('action-run-')
  const outputFile = path.join(dir, 'output')
  await writeFile(outputFile, '')
  const inputEnv = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])
  )
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('INPUT_') && k !== 'NODE_OPTIONS')
  )
  let child: ChildProcess | undefined
  const done = new Promise<ActionRun>((resolve) => {
    child = execFile(
      process.execPath,
      [ACTION_BUNDLE],
      {
        cwd: opts.cwd,
        env: { ...clean, ...inputEnv, GITHUB_OUTPUT: outputFile, RUNNER_TEMP: dir, ...env },
        timeout: opts.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL'
      },
      (err, stdout, stderr) => {
        const e = err as { code?: number | string; killed?: boolean; signal?: string } | null
        void readFile(outputFile, 'utf8').then(async (text) => {
          await rm(dir, { recursive: true, force: true })
          resolve({
            code: e ? (e.killed ? `killed (${e.signal}): a hang` : (e.code ?? 1)) : 0,
            stdout,
            stderr,
            outputs: parseOutputFile(text),
            errors: stdout.split('\n').filter((l) => l.startsWith('::error'))
          })
        })
      }
    )
  })
  return { child: child as unknown as ChildProcess, done }
}

export interface CliRun {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI as a user runs it (`node cli.js ARGS`), without NODE_OPTIONS or OCI_PASSWORD. */
export function runCli(
  args: string[],
  opts: { script?: string; cwd?: string } = {}
): Promise<CliRun> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && k !== 'OCI_PASSWORD')
  )
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [opts.script ?? CLI_BUNDLE, ...args],
      { env, cwd: opts.cwd, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  })
}
