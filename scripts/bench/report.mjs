// @ts-check
// From runs to results: the summary rows (medians over the rounds), the ratios to skopeo and the
// wire, the targets, and the table as text and markdown. `--report` reprints a saved JSON.

import fsp from 'node:fs/promises'
import { fmt, maxOf, median, minOf } from './common.mjs'

/** @import { RunRecord } from './types.mjs' */

/**
 * One row of the table: a tool in a case, over its rounds.
 * @typedef {object} SummaryRow
 * @property {string} case
 * @property {string} tool
 * @property {number} runs
 * @property {number} failed
 * @property {number | null} medianS
 * @property {number | null} minS
 * @property {number | null} peakRssMiB
 * @property {number | null} clientCpuS
 * @property {number | null} registryCpuS
 * @property {number | null} otherCpuS
 * @property {number | null} registryReadMiB
 * @property {number | null} registryWriteMiB
 * @property {number | null} layerMiBUploaded
 * @property {Record<string, number> | undefined} outcomes
 * @property {number | null} [vsSkopeo]
 * @property {number | null} [vsWire]
 */

/**
 * @typedef {object} TargetResult
 * @property {string} target
 * @property {number | null | undefined} value
 * @property {number} limit
 * @property {boolean | null} pass null when there is nothing to judge
 * @property {string} detail
 */

/** @typedef {(c: string, t: string) => SummaryRow | undefined} Find */

const TARGETS = {
  pushVsSkopeo: 0.6,
  pushVsWire: 1.25,
  pullDirVsSkopeo: 0.8,
  pullTarVsSkopeo: 0.6,
  rssMiB: 150,
  repushBeyondNodeS: 0.3,
  mountS: 0.5
}

/** @param {SummaryRow | undefined} a @param {SummaryRow | undefined} b */
const ratio = (a, b) => (a?.medianS && b?.medianS ? a.medianS / b.medianS : null)

/** @type {Record<string, string | undefined>} */
const PULL_SKOPEO = { 'ours → dir': 'skopeo → oci', 'ours → tar': 'skopeo → oci-archive' }

/**
 * The tools a row of ours is divided by: for a pull, the skopeo that writes the same form.
 * @param {SummaryRow} row
 */
function comparedWith(row) {
  if (row.case.startsWith('pull')) {
    const skopeoTool = PULL_SKOPEO[row.tool] ?? null
    return { skopeoTool, wireTool: row.tool.startsWith('ours') ? 'wire' : null }
  }
  return row.tool.startsWith('ours')
    ? { skopeoTool: 'skopeo', wireTool: 'wire' }
    : { skopeoTool: null, wireTool: null }
}

/**
 * The runs grouped by case and tool, in the order they first ran.
 * @param {RunRecord[]} runs
 * @returns {{ rows: SummaryRow[], find: Find }}
 */
export function summarize(runs) {
  /** @type {Map<string, RunRecord[]>} */
  const groups = new Map()
  for (const r of runs) {
    const key = `${r.case}\0${r.tool}`
    const group = groups.get(key) ?? []
    groups.set(key, group)
    group.push(r)
  }
  /** @type {SummaryRow[]} */
  const rows = []
  for (const rs of groups.values()) {
    const ok = rs.filter((r) => r.ok)
    rows.push({
      case: rs[0].case,
      tool: rs[0].tool,
      runs: rs.length,
      failed: rs.length - ok.length,
      medianS: median(ok.map((r) => r.wall)),
      minS: minOf(ok.map((r) => r.wall)),
      peakRssMiB: maxOf(ok.map((r) => r.rssMiB)),
      clientCpuS: median(ok.map((r) => r.clientCpu)),
      registryCpuS: median(ok.map((r) => r.registryCpu)),
      otherCpuS: median(ok.map((r) => r.otherCpu)),
      registryReadMiB: median(ok.map((r) => r.registryReadMiB)),
      registryWriteMiB: median(ok.map((r) => r.registryWriteMiB)),
      layerMiBUploaded: maxOf(ok.map((r) => r.layerMiBUploaded)),
      outcomes: ok.find((r) => r.outcomes)?.outcomes
    })
  }
  /** @type {Find} */
  const find = (c, t) => rows.find((r) => r.case === c && r.tool === t)
  for (const row of rows) {
    const { skopeoTool, wireTool } = comparedWith(row)
    row.vsSkopeo = skopeoTool ? ratio(row, find(row.case, skopeoTool)) : null
    row.vsWire = wireTool ? ratio(row, find(row.case, wireTool)) : null
  }
  return { rows, find }
}

const HEAD = [
  'case',
  'tool',
  'median s',
  'min s',
  'peak RSS MiB',
  'CPU s',
  'registry CPU s',
  'other CPU s',
  '×skopeo',
  '×wire'
]

/** @param {SummaryRow} r @param {string} tool */
const cells = (r, tool) => [
  r.case,
  tool,
  fmt(r.medianS),
  fmt(r.minS),
  fmt(r.peakRssMiB, 0),
  fmt(r.clientCpuS),
  fmt(r.registryCpuS),
  fmt(r.otherCpuS),
  fmt(r.vsSkopeo),
  fmt(r.vsWire)
]

/** The table as the terminal shows it. @param {SummaryRow[]} rows */
export function printTable(rows) {
  const body = rows.map((r) => cells(r, r.tool + (r.failed ? ` (${r.failed} failed)` : '')))
  const widths = HEAD.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (/** @type {string[]} */ row) =>
    row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  const lines = [line(HEAD), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)]
  return lines.join('\n')
}

/** @param {SummaryRow[]} rows */
function markdownTable(rows) {
  const out = [
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`
  ]
  for (const r of rows) out.push(`| ${cells(r, r.tool).join(' | ')} |`)
  return out.join('\n')
}

/**
 * Each target of docs/benchmark.md, for the cases that ran.
 * @param {Find} find
 * @param {number | null | undefined} nodeStart
 * @param {Set<string>} cases
 * @param {RunRecord[]} runs
 * @returns {TargetResult[]}
 */
export function evaluateTargets(find, nodeStart, cases, runs) {
  /** @type {TargetResult[]} */
  const t = []
  /** @type {(name: string, value: number | null | undefined, limit: number, pass: boolean, detail?: string) => void} */
  const add = (name, value, limit, pass, detail = '') => {
    t.push({
      target: name,
      value,
      limit,
      pass: value === null || value === undefined ? null : pass,
      detail
    })
  }
  // A missing figure is judged as 0: `add` gives it a `pass` of null anyway.
  const n = (/** @type {number | null | undefined} */ x) => x ?? 0
  if (cases.has('push')) {
    const r = ratio(find('push 1g.tar', 'ours'), find('push 1g.tar', 'skopeo'))
    add('push 1 GiB tar ≤ 0.6 × skopeo', r, TARGETS.pushVsSkopeo, n(r) <= TARGETS.pushVsSkopeo)
    const w = ratio(find('push 1g.tar', 'ours'), find('push 1g.tar', 'wire'))
    add('push 1 GiB tar ≤ 1.25 × wire', w, TARGETS.pushVsWire, n(w) <= TARGETS.pushVsWire)
  }
  if (cases.has('pull')) {
    const d = ratio(find('pull 1g', 'ours → dir'), find('pull 1g', 'skopeo → oci'))
    add(
      'pull 1 GiB to a directory ≤ 0.8 × skopeo',
      d,
      TARGETS.pullDirVsSkopeo,
      n(d) <= TARGETS.pullDirVsSkopeo
    )
    const r = ratio(find('pull 1g', 'ours → tar'), find('pull 1g', 'skopeo → oci-archive'))
    add(
      'pull 1 GiB to a tar ≤ 0.6 × skopeo',
      r,
      TARGETS.pullTarVsSkopeo,
      n(r) <= TARGETS.pullTarVsSkopeo
    )
  }
  const ours1g = runs.filter(
    (r) =>
      r.ok &&
      r.tool.startsWith('ours') &&
      (/^(push|pull) (1g|1g\.tar|1g-dir)$/.test(r.case) || r.case === 'rss 1g')
  )
  if (ours1g.length) {
    const m = maxOf(ours1g.map((r) => r.rssMiB))
    add('peak RSS ≤ 150 MiB, 1 GiB (our push and pulls)', m, TARGETS.rssMiB, n(m) <= TARGETS.rssMiB)
  }
  const ours4g = runs.filter((r) => r.ok && r.case === 'rss 4g')
  if (ours4g.length) {
    const m = maxOf(ours4g.map((r) => r.rssMiB))
    const m1 = maxOf(runs.filter((r) => r.ok && r.case === 'rss 1g').map((r) => r.rssMiB))
    add(
      'peak RSS ≤ 150 MiB, 4 GiB (our push and pulls)',
      m,
      TARGETS.rssMiB,
      n(m) <= TARGETS.rssMiB,
      m1 ? `1 GiB: ${fmt(m1, 0)} MiB; 4 GiB/1 GiB = ${fmt(n(m) / m1)}` : ''
    )
  }
  if (cases.has('repush')) {
    const row = find('repush 1g.tar', 'ours')
    const beyond = row?.medianS != null && nodeStart != null ? row.medianS - nodeStart : null
    const headsOnly =
      row?.outcomes &&
      Object.keys(row.outcomes).every((k) => k.endsWith('already present')) &&
      (row.layerMiBUploaded ?? 0) === 0
    add(
      're-push unchanged 1 GiB: < 0.3 s beyond Node start',
      beyond,
      TARGETS.repushBeyondNodeS,
      n(beyond) < TARGETS.repushBeyondNodeS,
      `median ${fmt(row?.medianS)} s − node start ${fmt(nodeStart, 3)} s`
    )
    add(
      're-push unchanged 1 GiB: HEADs only, nothing uploaded',
      headsOnly ? 1 : 0,
      1,
      !!headsOnly,
      row?.outcomes ? JSON.stringify(row.outcomes) : ''
    )
  }
  if (cases.has('mount')) {
    const row = find('mount 1g.tar', 'ours, mount-from: A') ?? find('mount 1g.tar', 'ours')
    add(
      `second repository, separate call after A${row?.tool === 'ours' ? '' : ' (mount-from: A)'}: < 0.5 s`,
      row?.medianS ?? null,
      TARGETS.mountS,
      n(row?.medianS) < TARGETS.mountS
    )
    const up = row?.layerMiBUploaded ?? null
    add(
      `second repository, separate call${row?.tool === 'ours' ? '' : ' (mount-from: A)'}: no layer bytes uploaded (MiB uploaded)`,
      up,
      0,
      up === 0,
      `registry read ${fmt(row?.registryReadMiB, 0)} MiB during the push; outcomes ${JSON.stringify(row?.outcomes ?? {})}`
    )
    const alt = find('mount 1g.tar', 'ours, A + tags: B')
    if (alt) {
      add(
        'second repository, one call (reference A, tags: B): < 0.5 s',
        alt.medianS,
        TARGETS.mountS,
        n(alt.medianS) < TARGETS.mountS
      )
      add(
        'second repository, one call: no layer bytes uploaded (MiB uploaded)',
        alt.layerMiBUploaded ?? 0,
        0,
        (alt.layerMiBUploaded ?? 0) === 0,
        `registry read ${fmt(alt.registryReadMiB, 1)} MiB; outcomes ${JSON.stringify(alt.outcomes ?? {})}`
      )
    }
  }
  return t
}

/** @param {TargetResult[]} targets */
export function printTargets(targets) {
  const lines = []
  for (const t of targets) {
    const v = t.value === null || t.value === undefined ? '-' : fmt(t.value)
    const verdict = t.pass === null ? 'n/a ' : t.pass ? 'PASS' : 'FAIL'
    lines.push(`${verdict}  ${t.target}: ${v}${t.detail ? `  (${t.detail})` : ''}`)
  }
  return lines.join('\n')
}

/**
 * The table and targets as markdown beside the JSON (FILE.md).
 * @param {string} jsonFile
 * @param {SummaryRow[]} rows
 * @param {TargetResult[]} targets
 */
export async function writeMarkdown(jsonFile, rows, targets) {
  const lines = printTargets(targets)
    .split('\n')
    .map((l) => `- ${l}`)
  await fsp.writeFile(
    jsonFile.replace(/\.json$/, '') + '.md',
    `${markdownTable(rows)}\n\n${lines.join('\n')}\n`
  )
}

/**
 * Prints the table and targets of an earlier run's JSON again, and rewrites its markdown.
 * @param {string} file
 */
export async function reprint(file) {
  /** @type {{ date: string, options: { rounds: number }, action?: { path?: string, sha256?: string | null }, summary: SummaryRow[], targets: TargetResult[] }} */
  const report = JSON.parse(await fsp.readFile(file, 'utf8'))
  console.log(
    `${file}: ${report.date}, ${report.options.rounds} rounds, ${report.action?.path ?? ''} ${report.action?.sha256?.slice(0, 12) ?? ''}\n`
  )
  console.log(printTable(report.summary))
  console.log('\nTargets\n' + printTargets(report.targets))
  await writeMarkdown(file, report.summary, report.targets)
}
