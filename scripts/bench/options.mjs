// @ts-check
// The command line: `--rounds --cases --json --big/--no-big --concurrency --quiet-wait --report`.

import path from 'node:path'
import { parseArgs } from 'node:util'
import { CASE_IDS } from './cases.mjs'
import { BENCH_DIR } from './common.mjs'

const USAGE = `usage: node scripts/bench.mjs [--rounds N] [--cases ${CASE_IDS.join(',')}] [--json FILE]
       [--big | --no-big] [--concurrency N] [--quiet-wait S]
       node scripts/bench.mjs --report .bench/results.json`

/**
 * @typedef {object} Options
 * @property {number} rounds
 * @property {number} quietWait seconds
 * @property {Set<string>} cases in the order given
 * @property {string} json
 * @property {boolean | undefined} big undefined: decided by the free disk
 * @property {string | undefined} concurrency
 * @property {string | undefined} report
 */

/** @returns {Options} */
export function readOptions() {
  const { values } = parseArgs({
    strict: true,
    options: {
      rounds: { type: 'string' },
      cases: { type: 'string' },
      json: { type: 'string' },
      big: { type: 'boolean' },
      'no-big': { type: 'boolean' },
      concurrency: { type: 'string' },
      'quiet-wait': { type: 'string' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const rounds = values.rounds === undefined ? 3 : Number(values.rounds)
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: want a whole number >= 1`)
  const cases = values.cases
    ? values.cases
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : CASE_IDS
  for (const c of cases)
    if (!CASE_IDS.includes(c)) throw new Error(`--cases: unknown case "${c}" (${CASE_IDS})`)
  let big
  if (values.big) big = true
  else if (values['no-big']) big = false
  else if (process.env.BENCH_BIG === '1' || process.env.BENCH_BIG === 'true') big = true
  else if (process.env.BENCH_BIG === '0' || process.env.BENCH_BIG === 'false') big = false
  if (values.concurrency !== undefined && !/^\d+$/.test(values.concurrency))
    throw new Error('--concurrency: want a whole number')
  const quietWait = values['quiet-wait'] === undefined ? 10 : Number(values['quiet-wait'])
  if (!(quietWait >= 0)) throw new Error('--quiet-wait: want seconds >= 0')
  return {
    rounds,
    quietWait,
    cases: new Set(cases),
    json: path.resolve(values.json ?? path.join(BENCH_DIR, 'results.json')),
    big,
    concurrency: values.concurrency,
    report: values.report
  }
}
