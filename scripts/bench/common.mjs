// @ts-check
// Paths, names and the small number helpers every part of the benchmark shares.

import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BENCH_DIR = path.join(ROOT, '.bench')
export const ACTION = path.join(ROOT, 'dist', 'index.js')
export const MiB = 1 << 20
export const GiB = 1 << 30
export const TAG = 'v1'
export const REPO = 'bench/app'
export const REPO_B = 'bench/other'

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/**
 * The finite numbers of a list: a failed or unmeasured run leaves null (or NaN) behind.
 * @param {readonly (number | null | undefined)[]} xs
 * @returns {number[]}
 */
const finite = (xs) =>
  xs.filter(/** @returns {x is number} */ (x) => typeof x === 'number' && Number.isFinite(x))

/** @param {readonly (number | null | undefined)[]} xs */
export const median = (xs) => {
  const v = finite(xs).sort((a, b) => a - b)
  if (!v.length) return null
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}

/** @param {readonly (number | null | undefined)[]} xs */
export const minOf = (xs) => {
  const v = finite(xs)
  return v.length ? Math.min(...v) : null
}

/** @param {readonly (number | null | undefined)[]} xs */
export const maxOf = (xs) => {
  const v = finite(xs)
  return v.length ? Math.max(...v) : null
}

/** @param {number | null | undefined} x */
export const fmt = (x, d = 2) => (x === null || x === undefined ? '-' : x.toFixed(d))

/**
 * The first median over the second, when both are there.
 * @param {{ medianS: number | null } | undefined} a
 * @param {{ medianS: number | null } | undefined} b
 */
export const ratio = (a, b) => (a?.medianS && b?.medianS ? a.medianS / b.medianS : null)

/** @param {number} n bytes */
export const gib = (n) => `${(n / GiB).toFixed(1)} GiB`

/** The tail of a tool's output: enough to say why it failed. */
export function lastLines(text = '', n = 6) {
  return text.trim().split('\n').slice(-n).join('\n')
}

/**
 * @import { Adapter, Env, Job, RepoName, Row, Target, ToolResult } from './types.mjs'
 */

/**
 * The run's repository of that name.
 * @param {Pick<Target, 'repo' | 'repoB'>} t
 * @param {RepoName} name
 */
export const repoNamed = (t, name) => (name === 'B' ? t.repoB : t.repo)

/**
 * An adapter for a tool that keeps nothing between calls, so a re-push and a mount are plain
 * pushes to it; its pulls go into the row's `into` under the run's directory.
 * @param {(row: Row, env: Env) => Job} push
 * @param {(t: Target, into: 'layout' | 'layout.tar', env: Env) => Promise<ToolResult>} pull
 * @returns {Adapter}
 */
export const pushPullAdapter = (push, pull) => ({
  push,
  repush: push,
  mount: push,
  pull: (row, env) => ({ exec: (t) => pull(t, row.into ?? 'layout', env) })
})
