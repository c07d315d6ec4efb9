// @ts-check
// Our command line as a tool of the table, for a layout of many tags: every tag in one call,
// `oci-layout restore --input LAYOUT HOST/REPO` to push and `oci-layout backup --output PATH
// HOST/REPO:T1,T2,...` to pull (oras 1.3's forms; README, "From the command line"). Both carry
// referrers by default, as a user would run them; the layouts here have none.

import path from 'node:path'
import { ROOT, lastLines, repoNamed } from './common.mjs'
import { runProc } from './machine.mjs'

/** @import { Adapter, ToolResult } from './types.mjs' */

export const CLI = path.join(ROOT, 'dist', 'cli.js')

/**
 * `node dist/cli.js ARGS`, without the runner's INPUT_* variables.
 * @param {string[]} args
 * @returns {Promise<ToolResult>}
 */
async function runCli(args) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('INPUT_') && k !== 'NODE_OPTIONS')
  )
  const r = await runProc(process.execPath, [CLI, ...args], { env, cwd: ROOT })
  return { ...r, error: r.code === 0 ? null : lastLines(r.stdout + '\n' + r.stderr) }
}

/** @type {Adapter} */
export const oursCli = {
  push: (_row, { info, dest }) => ({
    exec: (t) => runCli(['restore', '--input', info.path, `${t.host}/${repoNamed(t, dest)}`])
  }),
  pull: (row, { info }) => ({
    exec: ({ host, out, repo }) =>
      runCli([
        'backup',
        '--output',
        path.join(out, row.into ?? 'layout'),
        `${host}/${repo}:${info.refs.map((r) => r.tag).join(',')}`
      ])
  })
}
