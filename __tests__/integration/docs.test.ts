// The README's inputs and outputs tables, the action's inputs and the code that reads them agree.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { parse } from 'yaml'
import { INPUT_NAMES } from '../../src/inputs.js'

const execFileP = promisify(execFile)

describe('docs and action.yml', () => {
  it('README tables are generated from action.yml', async () => {
    await expect(
      execFileP(process.execPath, ['scripts/docs-tables.mjs', '--check'])
    ).resolves.toBeDefined()
  })

  it('action.yml declares exactly the inputs the code reads', async () => {
    const action = parse(await readFile('action.yml', 'utf8')) as {
      inputs: Record<string, unknown>
      runs: { using: string; main: string }
    }
    expect(Object.keys(action.inputs).sort()).toEqual([...INPUT_NAMES].sort())
    expect(action.runs).toEqual({ using: 'node20', main: 'dist/index.js' })
  })
})
