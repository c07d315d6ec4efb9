// @ts-check
// From runs to results: the summary rows (medians over the rounds), the ratios to skopeo and the
// wire, the targets, and the table as text and markdown. `--report` reprints a saved JSON.

import fsp from 'node:fs/promises'
import { fmt, maxOf, median, minOf, ratio } from './common.mjs'
import { printTargets } from './targets.mjs'

/**
 * @import { TargetResult } from './targets.mjs'
 * @import { RunRecord } from './types.mjs'
 */

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
 * @property {number | null} [clientSysCpuS] the kernel part of it (ours)
 * @property {number | null} registryCpuS
 * @property {number | null} [proxyCpuS] the delay proxies' (latency benches)
 * @property {number | null} otherCpuS
 * @property {number | null} [busyCores] the median over the runs of their median busy cores
 * @property {number | null} registryReadMiB
 * @property {number | null} registryWriteMiB
 * @property {number | null} layerMiBUploaded
 * @property {Record<string, number> | undefined} outcomes
 * @property {number | null} [vsSkopeo]
 * @property {number | null} [vsWire]
 */

/** @typedef {(c: string, t: string) => SummaryRow | undefined} Find */

/** @type {Record<string, string | undefined>} */
const PULL_SKOPEO = {
  'ours → dir': 'skopeo → oci',
  'ours → tar': 'skopeo → oci-archive',
  'ours backup → dir': 'skopeo → oci'
}

/**
 * The tools a row of ours is divided by: for a pull, the skopeo that writes the same form; for
 * the fan-out, skopeo's copies to as many registries (there is no wire row).
 * @param {SummaryRow} row
 */
function comparedWith(row) {
  if (row.case.startsWith('fanout'))
    return {
      skopeoTool: row.tool === 'ours → 3 registries' ? 'skopeo → 3 registries' : null,
      wireTool: null
    }
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
      clientSysCpuS: median(ok.map((r) => r.clientSysCpu)),
      registryCpuS: median(ok.map((r) => r.registryCpu)),
      ...(rs.some((r) => r.proxyCpu !== undefined)
        ? { proxyCpuS: median(ok.map((r) => r.proxyCpu)) }
        : {}),
      otherCpuS: median(ok.map((r) => r.otherCpu)),
      busyCores: median(ok.map((r) => r.busyCores)),
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
