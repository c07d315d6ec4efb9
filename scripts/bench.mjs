#!/usr/bin/env node
// @ts-check
// Benchmark of the bundled action (dist/index.js) against skopeo and against the wire limit
// (curl, every blob at once), on a local CNCF distribution registry. Run by hand, not in CI:
//
//   npm run bench                                  # default set, 3 rounds
//   node scripts/bench.mjs --rounds 5 --cases push,repush --json /tmp/bench.json
//   node scripts/bench.mjs --no-big                # skip the 4 GiB RSS-flatness layout
//
// Options:
//   --rounds N        rounds per case (default 3, at least 1); tools run interleaved in each round
//   --cases LIST      any of push,pull,repush,mount,rss,big-layer,small,fanout,latency,tags100
//                     (default: all)
//   --json FILE       where the figures go (default .bench/results.json)
//   --big / --no-big  the 4 GiB layout of the rss case (default: on when >= 20 GiB is free;
//                     env BENCH_BIG=1 / BENCH_BIG=0 does the same)
//   --concurrency N   INPUT_CONCURRENCY for our action (default: action.yml's default)
//   --report FILE     print the table and targets of an earlier run's JSON (and rewrite FILE.md)
//   --quiet-wait S    before each run, wait up to S s (default 10; 180 s in all) for the machine
//                     to go idle: on 2 cores a test suite running alongside skews everything
//
// This file sets the run up (tools, disk, layouts, the run directory, cleanup), runs the selected
// cases and writes the results. The rest is under scripts/bench/: the case table (cases.mjs),
// one adapter per tool (ours.mjs, skopeo.mjs, wire.mjs), running and measuring the table
// (run.mjs, machine.mjs, registry.mjs, layouts.mjs) and the results (report.mjs). Plain ESM with
// node built-ins only: bare `node`. See docs/benchmark.md.

import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { CASES } from './bench/cases.mjs'
import { ACTION, BENCH_DIR, GiB, ROOT, fmt, gib, median } from './bench/common.mjs'
import { ensureLayouts } from './bench/layouts.mjs'
import {
  ensureTime,
  fileSha256,
  freeBytes,
  nodeStartS,
  setScratchDir,
  sha256GiBCpuS,
  toolVersion,
  which
} from './bench/machine.mjs'
import { readOptions } from './bench/options.mjs'
import { CLI } from './bench/ours-cli.mjs'
import { actionDefaultsOf, readActionYml } from './bench/ours.mjs'
import { killRegistries } from './bench/registry.mjs'
import { printTable, reprint, summarize, writeMarkdown } from './bench/report.mjs'
import { layoutsOf, runCase } from './bench/run.mjs'
import { evaluateTargets, printTargets } from './bench/targets.mjs'

/** @import { Ctx } from './bench/types.mjs' */

const BIG_FREE_BYTES = 20 * GiB
const MIN_FREE_BYTES = 12 * GiB // layouts (4 GiB), seeds (2 GiB), one run's storage + output (3 GiB), skopeo's scratch

/** Refuses to start without the tools and the bundle; GNU time is installed if it can be. */
function checkTools() {
  for (const [tool, hint] of [
    ['docker-registry', 'apt-get install docker-registry'],
    ['skopeo', 'apt-get install skopeo'],
    ['curl', 'apt-get install curl']
  ])
    if (!which(tool))
      throw new Error(`${tool} is not installed (${hint}, or bash scripts/setup.sh)`)
  for (const file of [ACTION, CLI])
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: npm run build`)
  return ensureTime()
}

/**
 * Whether the 4 GiB layout runs, and why not: by the options, else by the free disk.
 * @param {boolean | undefined} asked
 * @param {number} free bytes
 */
function decideBig(asked, free) {
  if (asked === undefined) {
    const big = free >= BIG_FREE_BYTES
    const why = big
      ? ''
      : `only ${gib(free)} free, the 4 GiB case wants ${gib(BIG_FREE_BYTES)}; --big forces it`
    return { big, bigWhy: why }
  }
  return { big: asked, bigWhy: asked ? '' : '--no-big / BENCH_BIG=0' }
}

async function main() {
  const opts = readOptions()
  if (opts.report) return reprint(path.resolve(opts.report))
  const started = performance.now()
  const loadAtStart = os.loadavg()
  const haveTime = checkTools()
  const actionYml = readActionYml()
  const actionDefaults = actionDefaultsOf(actionYml)
  // dist/ may be rebuilt while this runs (others work in the tree): record what was measured.
  const actionAtStart = {
    sha256: fileSha256(ACTION),
    mtime: fs.statSync(ACTION).mtime.toISOString()
  }
  const gitHead =
    spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || null

  await fsp.mkdir(BENCH_DIR, { recursive: true })
  const free = freeBytes(BENCH_DIR)
  const { big, bigWhy } = decideBig(opts.big, free)
  console.log(
    `free disk under ${BENCH_DIR}: ${gib(free)}; 4 GiB case ${opts.cases.has('rss') ? (big ? 'on' : 'off') : 'not selected'}`
  )
  if (free < MIN_FREE_BYTES)
    console.log(`warning: less than ${gib(MIN_FREE_BYTES)} free; runs may fail for want of disk`)

  // The cases run in the table's order, whatever order --cases names them in.
  const selected = CASES.filter((c) => opts.cases.has(c.id))
  const layouts = await ensureLayouts(selected.flatMap((c) => layoutsOf(c, big)))

  const work = await fsp.mkdtemp(path.join(BENCH_DIR, 'run-'))
  setScratchDir(work)
  /** @type {Ctx} */
  const ctx = {
    rounds: opts.rounds,
    cases: opts.cases,
    big,
    bigWhy,
    concurrency: opts.concurrency,
    quietWait: opts.quietWait,
    layouts,
    work,
    seeds: new Map(),
    actionDefaults,
    declares: (input) => new RegExp(`^ {2}${input}:\\s*$`, 'm').test(actionYml),
    nodeStartRepush: [],
    runs: []
  }
  const cleanup = () => {
    killRegistries()
    fs.rmSync(work, { recursive: true, force: true })
  }
  process.once('SIGINT', () => {
    cleanup()
    process.exit(130)
  })
  process.once('SIGTERM', () => {
    cleanup()
    process.exit(143)
  })

  let nodeStart
  /** @type {number | undefined} */
  let hashS
  try {
    // Node's own start: the floor under any `node dist/index.js` run.
    const ns = []
    for (let i = 0; i < 7; i++) ns.push(await nodeStartS())
    nodeStart = median(ns)
    console.log(
      `node -e 0: median ${fmt(nodeStart, 3)} s (${ns.map((x) => x.toFixed(3)).join(', ')})`
    )
    // What our push hashes and the wire does not: part of the push's floor.
    hashS = median([sha256GiBCpuS(), sha256GiBCpuS(), sha256GiBCpuS()]) ?? undefined
    console.log(`sha256 of 1 GiB in Node: ${fmt(hashS)} CPU-s`)
    for (const c of selected) await runCase(ctx, c)
  } finally {
    cleanup()
  }

  const actionAtEnd = fileSha256(ACTION)
  if (actionAtEnd !== actionAtStart.sha256) {
    /** @type {Map<string, Set<string>>} */
    const builds = new Map()
    for (const r of ctx.runs) {
      if (!r.action) continue
      const cases = builds.get(r.action) ?? new Set()
      builds.set(r.action, cases)
      cases.add(r.case)
    }
    console.log(
      `\nwarning: ${path.relative(ROOT, ACTION)} changed during the run; our runs used ${[...builds]
        .map(([h, cases]) => `${h} (${[...cases].join(', ')})`)
        .join(' and ')}`
    )
  }
  const { rows, find } = summarize(ctx.runs)
  const nodeStartRepush = median(ctx.nodeStartRepush)
  const targets = evaluateTargets(find, nodeStartRepush ?? nodeStart, ctx.cases, ctx.runs, {
    nodeStart,
    hashS: hashS ?? null,
    cores: os.cpus().length
  })
  const totalS = (performance.now() - started) / 1000
  console.log(
    `\nResults (${opts.rounds} round${opts.rounds > 1 ? 's' : ''}, ${fmt(totalS / 60, 1)} min in all)\n`
  )
  console.log(printTable(rows))
  console.log(
    `\nnode -e 0: ${fmt(nodeStart, 3)} s at the start${nodeStartRepush !== null ? `, ${fmt(nodeStartRepush, 3)} s beside the re-push runs` : ''}. peak RSS: max over runs (wire: sum over its parallel curls). CPU: the tool's user+sys. registry CPU: the registry process's user+sys during the command. other CPU: everything else busy meanwhile (other processes, kernel write-back, this script).`
  )
  console.log('\nTargets\n' + printTargets(targets))
  const regCpu = rows
    .filter((r) => r.registryCpuS !== null && r.medianS)
    .map(
      (r) =>
        `${r.case} / ${r.tool}: ${fmt(r.registryCpuS)} s (${fmt((100 * (r.registryCpuS ?? 0)) / (r.medianS ?? 1), 0)}% of one core over ${fmt(r.medianS)} s)`
    )
  console.log(
    `\nRegistry CPU (median per run, summed over a run's registries; ${os.cpus().length} cores in all):\n  ${regCpu.join('\n  ')}`
  )
  const proxyCpu = rows
    .filter((r) => r.proxyCpuS !== undefined)
    .map((r) => `${r.case} / ${r.tool}: ${fmt(r.proxyCpuS)} s`)
  if (proxyCpu.length)
    console.log(
      `\nDelay proxy CPU (median per run; not in the tool's, the registry's or "other"):\n  ${proxyCpu.join('\n  ')}`
    )

  const report = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: +(os.totalmem() / GiB).toFixed(1),
      kernel: os.release(),
      loadavgAtStart: loadAtStart,
      node: process.version,
      skopeo: toolVersion('skopeo', ['--version']),
      registry: toolVersion('docker-registry', ['--version']),
      curl: toolVersion('curl', ['--version'])
    },
    options: {
      rounds: opts.rounds,
      cases: [...opts.cases],
      big,
      concurrency: opts.concurrency ?? actionDefaults.concurrency ?? null,
      rssMethod: haveTime ? 'GNU time %M' : '/proc VmHWM polling'
    },
    layouts: Object.fromEntries(
      Object.entries(layouts).map(([k, v]) => [
        k,
        { path: v.path, digest: v.digest, blobBytes: v.blobBytes, size: v.size }
      ])
    ),
    action: {
      path: path.relative(ROOT, ACTION),
      ...actionAtStart,
      changedDuringRun: actionAtEnd !== actionAtStart.sha256,
      gitHead
    },
    nodeStartS: nodeStart,
    sha256GiBCpuS: hashS ?? null,
    nodeStartRepushS: nodeStartRepush,
    totalMinutes: +(totalS / 60).toFixed(2),
    summary: rows,
    targets,
    runs: ctx.runs
  }
  await fsp.mkdir(path.dirname(opts.json), { recursive: true })
  await fsp.writeFile(opts.json, JSON.stringify(report, null, 2) + '\n')
  console.log(`\nfigures: ${opts.json}`)
  await writeMarkdown(opts.json, rows, targets)
}

main().catch((err) => {
  console.error(`bench: ${err instanceof Error ? err.stack : err}`)
  process.exitCode = 1
})
