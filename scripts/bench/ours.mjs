// @ts-check
// Our action as a tool of the table: `node dist/index.js` run the way the runner runs it, with
// every INPUT_* set (action.yml's defaults for the ones not given), GITHUB_OUTPUT and RUNNER_TEMP.

import crypto from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { ACTION, GiB, MiB, ROOT, TAG, lastLines, pushPullAdapter, repoNamed } from './common.mjs'
import { runProc } from './machine.mjs'

/** @import { Adapter, Ctx, Env, Job, RepoName, Row, Target, ToolResult } from './types.mjs' */

/** action.yml as text, or '' without one. */
export function readActionYml() {
  try {
    return fs.readFileSync(path.join(ROOT, 'action.yml'), 'utf8')
  } catch {
    return ''
  }
}

/**
 * action.yml's input defaults: the runner sets INPUT_<NAME> for each of them.
 * @param {string} text action.yml
 */
export function actionDefaultsOf(text) {
  /** @type {Record<string, string>} */
  const out = {}
  const inputs = /^inputs:\n([\s\S]*?)(?=^\S)/m.exec(text)?.[1] ?? ''
  /** @type {string | null} */
  let current = null
  for (const line of inputs.split('\n')) {
    const name = /^ {2}([A-Za-z0-9_-]+):\s*$/.exec(line)
    if (name) current = name[1]
    const def = /^ {4}default:\s*(.*)$/.exec(line)
    if (def && current) out[current] = def[1].trim().replace(/^(['"])(.*)\1$/, '$2')
  }
  return out
}

const UNITS = /** @type {Record<string, number>} */ ({ B: 1, KiB: 1024, MiB: MiB, GiB: GiB })

/**
 * `node dist/index.js` with INPUT_* variables and a GITHUB_OUTPUT file, as the runner does.
 * @param {Record<string, string>} inputs
 * @param {Pick<Ctx, 'work' | 'concurrency' | 'actionDefaults'>} ctx
 * @returns {Promise<ToolResult>}
 */
export async function runOurs(inputs, { work, concurrency, actionDefaults }) {
  const outFile = path.join(work, `github-output-${crypto.randomBytes(4).toString('hex')}`)
  await fsp.writeFile(outFile, '')
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('INPUT_') && k !== 'NODE_OPTIONS')
  )
  const all = { ...actionDefaults, ...inputs }
  if (concurrency) all.concurrency = concurrency
  for (const [k, v] of Object.entries(all)) env[`INPUT_${k.toUpperCase()}`] = v
  env.GITHUB_OUTPUT = outFile
  env.RUNNER_TEMP = work
  const r = await runProc(process.execPath, [ACTION], { env, cwd: ROOT })
  /** @type {Record<string, string>} */
  const outputs = {}
  const lines = (await fsp.readFile(outFile, 'utf8')).split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i])
    if (m) outputs[m[1]] = lines[++i]
  }
  await fsp.rm(outFile, { force: true })
  // One log line per blob / manifest: "... uploaded | already present | mounted | downloaded".
  /** @type {Record<string, number>} */
  const outcomes = {}
  let layerBytesUploaded = 0
  for (const line of r.stdout.split('\n')) {
    const m =
      /^(blob|manifest)\s+\S+\s+([\d.]+) (B|KiB|MiB|GiB)\s+(uploaded|already present|mounted|downloaded|\S+)\s*$/.exec(
        line.trim()
      )
    if (!m) continue
    const key = `${m[1]} ${m[4]}`
    outcomes[key] = (outcomes[key] ?? 0) + 1
    if (m[1] === 'blob' && m[4] === 'uploaded') layerBytesUploaded += Number(m[2]) * UNITS[m[3]]
  }
  const summary = /(Pushed|Pulled) .*: (.*)$/m.exec(r.stdout)?.[2] ?? null
  return {
    ...r,
    digest: outputs.digest ?? null,
    outcomes,
    layerBytesUploaded,
    summary,
    error: r.code === 0 ? null : lastLines(r.stdout + '\n' + r.stderr)
  }
}

/**
 * The `tags` input of a row: HOST/<repository>:TAG for `tags` (the run's registry) and for each
 * registry beyond the first of a push to several (the same repository as `reference`).
 * @param {Row} row
 * @param {Target} t
 * @param {RepoName} dest
 */
function tagsOf(row, t, dest) {
  const refs = t.hosts
    .slice(1, row.registries ?? 1)
    .map((host) => `${host}/${repoNamed(t, row.reference ?? dest)}:${TAG}`)
  if (row.tags) refs.unshift(`${t.host}/${repoNamed(t, row.tags)}:${TAG}`)
  /** @type {Record<string, string>} */
  const out = refs.length ? { tags: refs.join(',') } : {}
  return out
}

/**
 * A push of the bench's layout; `reference`, `tags` and `mountFrom` of the row name the run's
 * repositories (A or B), since those names are only known when the run starts.
 * @type {(row: Row, env: Env) => Job}
 */
const push = (row, { ctx, info, dest }) => ({
  exec: (t) =>
    runOurs(
      {
        layout: `${info.path}:${TAG}`,
        registry: t.host,
        reference: `${repoNamed(t, row.reference ?? dest)}:${TAG}`,
        ...tagsOf(row, t, dest),
        direction: 'push',
        ...(row.mountFrom ? { 'mount-from': repoNamed(t, row.mountFrom) } : {}),
        ...row.inputs
      },
      ctx
    ),
  check: row.outputDigest
    ? async ({ result }) =>
        result.digest !== info.digest
          ? `action output digest ${result.digest}, want ${info.digest}`
          : null
    : undefined
})

/** @type {Adapter} */
export const ours = pushPullAdapter(push, ({ host, out, repo }, into, { ctx }) =>
  runOurs(
    {
      layout: path.join(out, into),
      registry: host,
      reference: `${repo}:${TAG}`,
      direction: 'pull'
    },
    ctx
  )
)
