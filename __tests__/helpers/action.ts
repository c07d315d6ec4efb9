// Runs the bundled action the way the runner does: `node dist/index.js` with INPUT_* variables
// and a GITHUB_OUTPUT file.
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { tmpDir } from './skopeo.js'

export interface ActionRun {
  code: number
  stdout: string
  stderr: string
  outputs: Record<string, string>
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
  env: Record<string, string> = {}
): Promise<ActionRun> {
  const dir = await tmpDir('action-run-')
  const outputFile = path.join(dir, 'output')
  await writeFile(outputFile, '')
  const inputEnv = Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])
  )
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('INPUT_') && k !== 'NODE_OPTIONS')
  )
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.resolve('dist/index.js')],
      {
        env: { ...clean, ...inputEnv, GITHUB_OUTPUT: outputFile, RUNNER_TEMP: dir, ...env },
        timeout: 120_000
      },
      (err, stdout, stderr) => {
        void readFile(outputFile, 'utf8').then((text) =>
          resolve({
            code: err ? ((err as { code?: number }).code ?? 1) : 0,
            stdout,
            stderr,
            outputs: parseOutputFile(text)
          })
        )
      }
    )
  })
}
