// @ts-check
// Runs the case table: each bench's rows through their adapters, round by round with the order
// rotated, each run measured on a registry of its own.

import { spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { ACTION, MiB, REPO, REPO_B, fmt, gib, repoNamed } from './common.mjs'
import { checkLayoutRefs, familyOf, layoutDigest, readLayoutDir } from './layouts.mjs'
import { fileSha256, nodeStartS, sampleBusy, systemBusy, waitQuiet } from './machine.mjs'
import { oursCli } from './ours-cli.mjs'
import { ours } from './ours.mjs'
import { cloneStorage, remoteDigest, seedStorage } from './registry.mjs'
import { extraStorages, startServers } from './servers.mjs'
import { skopeo } from './skopeo.mjs'
import { wire } from './wire.mjs'

/**
 * @import { Adapter, Bench, Case, Check, Ctx, Env, Job, Row, RunRecord, Target } from './types.mjs'
 */

/** @type {Record<Row['adapter'], Adapter>} */
const ADAPTERS = { ours, 'ours-cli': oursCli, skopeo, wire }

/** Ops that start from a registry already holding the image. */
const SEEDED = new Set(['repush', 'mount', 'pull'])

/**
 * @typedef {Job & { caseName: string, tool: string, round: number, seeded: boolean, registries: number, latencyMs?: number }} Planned
 * @typedef {Planned & { seed?: string }} Scheduled
 */

/**
 * One measured run: a registry on fresh storage (cloned from `seed` when given; more registries
 * on fresh storage when the row pushes to several; each behind a delay proxy when the bench adds
 * latency), the command, the registries' CPU and I/O over the command only, then everything
 * deleted.
 * @param {Ctx} ctx
 * @param {Scheduled} job
 */
async function measure(ctx, job) {
  const { caseName, tool, round, seed, exec, check, registries, latencyMs } = job
  const id = crypto.randomBytes(4).toString('hex')
  const storage = path.join(ctx.work, `storage-${id}`)
  const out = path.join(ctx.work, `out-${id}`)
  await fsp.mkdir(out, { recursive: true })
  // Repository names unique to the run: skopeo keeps a persistent cache of where it saw each blob
  // (host:port/repository), and ports come round again; with fixed names it would sometimes mount
  // from a registry it remembers instead of uploading.
  const repo = `${REPO}-${id}`
  const repoB = `${REPO_B}-${id}`
  if (seed) await cloneStorage(seed, storage, repo)
  const reg = await startServers(storage, ctx.work, { count: registries, latencyMs })
  /** @type {Target} */
  const target = {
    host: reg.hosts[0],
    hosts: reg.hosts,
    registryHosts: reg.registryHosts,
    out,
    repo,
    repoB
  }
  // The figures and `ok` are filled in below, in the order the JSON shows them.
  const rec = /** @type {RunRecord} */ ({
    case: caseName,
    tool,
    round,
    at: new Date().toISOString()
  })
  // dist/ can be rebuilt under a running bench: note which build each of our runs used.
  if (tool.startsWith('ours')) rec.action = fileSha256(ACTION)?.slice(0, 12)
  try {
    // Flush what earlier runs left dirty, so their write-back does not land in this run's time.
    spawnSync('sync')
    rec.busyBefore = await waitQuiet(ctx.quietWait)
    const before = reg.stat()
    const busy0 = systemBusy()
    const { result: r, busyCores } = await sampleBusy(() => exec(target))
    const busy1 = systemBusy()
    const after = reg.stat()
    const proxyCpu =
      after.proxyCpu === null || before.proxyCpu === null ? null : after.proxyCpu - before.proxyCpu
    Object.assign(rec, {
      wall: r.wall,
      rssMiB: r.rssKiB ? r.rssKiB / 1024 : null,
      clientCpu: r.cpu ?? null,
      clientSysCpu: r.sys ?? null,
      ...(registries > 1 ? { registries } : {}),
      registryCpu: after.cpu - before.cpu,
      ...(proxyCpu === null ? {} : { proxyCpu }),
      // everything else that ran meanwhile: other processes, kernel write-back, this script
      otherCpu: busy1 - busy0 - (r.cpu ?? 0) - (after.cpu - before.cpu) - (proxyCpu ?? 0),
      busyCores,
      registryReadMiB: (after.rchar - before.rchar) / MiB,
      registryWriteMiB: (after.wchar - before.wchar) / MiB,
      ok: !r.error,
      error: r.error ?? undefined
    })
    if (r.outcomes) rec.outcomes = r.outcomes
    if (r.layerBytesUploaded !== undefined) rec.layerMiBUploaded = r.layerBytesUploaded / MiB
    if (r.summary) rec.summary = r.summary
    if (!r.error && check) {
      const problem = await check({ ...target, result: r })
      if (problem) Object.assign(rec, { ok: false, error: problem })
    }
  } catch (err) {
    Object.assign(rec, { ok: false, error: err instanceof Error ? err.message : String(err) })
  } finally {
    await reg.stop()
    for (const s of [storage, ...extraStorages(storage, registries)])
      await fsp.rm(s, { recursive: true, force: true })
    await fsp.rm(out, { recursive: true, force: true })
  }
  ctx.runs.push(rec)
  const extra = rec.outcomes
    ? `  ${Object.entries(rec.outcomes)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}`
    : ''
  console.log(
    `  [${caseName}] round ${round} ${tool.padEnd(22)} ${rec.ok ? `${fmt(rec.wall).padStart(7)} s` : 'FAILED   '}  RSS ${fmt(rec.rssMiB, 0).padStart(5)} MiB  CPU ${fmt(rec.clientCpu).padStart(6)} s  registry CPU ${fmt(rec.registryCpu).padStart(6)} s${rec.proxyCpu !== undefined ? `  proxy ${fmt(rec.proxyCpu).padStart(5)} s` : ''}  other ${fmt(rec.otherCpu).padStart(5)} s${extra}`
  )
  if (!rec.ok) console.log(`    ${String(rec.error).split('\n').join('\n    ')}`)
  return rec
}

/**
 * What every row of an op is checked for: a push, that the registry (each registry, for a push
 * to several) holds the layout's digest (every tag's, for a layout of several) where it went; a
 * pull into a file or directory, the digest (every tag's) of what it wrote.
 * @param {Row} row
 * @param {Env} env
 * @returns {Check | undefined}
 */
function opCheck(row, { op, info, dest }) {
  const into = row.into
  if (op === 'pull') {
    if (!into) return undefined
    if (info.refs.length > 1) return ({ out }) => checkLayoutRefs(path.join(out, into), info.refs)
    return async ({ out }) => {
      const got = await layoutDigest(path.join(out, into))
      return got === info.digest ? null : `pulled layout has ${got}, want ${info.digest}`
    }
  }
  const count = row.registries ?? 1
  return async (t) => {
    const name = repoNamed(t, dest)
    for (const host of t.registryHosts.slice(0, count))
      for (const { tag, digest } of info.refs) {
        const got = await remoteDigest(host, name, tag)
        if (got !== digest)
          return `registry ${host} has ${name}:${tag} = ${got}, want ${digest}${info.refs.length > 1 ? ` (${info.refs.length} tags checked)` : ''}`
      }
    return null
  }
}

/**
 * A row made runnable by its adapter, its own check (if any) before the op's.
 * @param {Row} row
 * @param {Omit<Env, 'op' | 'dest'>} benchEnv
 * @param {number} round
 * @returns {Planned}
 */
function plan(row, benchEnv, round) {
  const op = row.op ?? benchEnv.bench.op
  /** @type {Env} */
  const env = { ...benchEnv, op, dest: op === 'mount' ? 'B' : 'A' }
  const make = ADAPTERS[row.adapter][op]
  if (!make) throw new Error(`${benchEnv.bench.name}: ${row.adapter} cannot ${op}`)
  const { exec, check: own } = make(row, env)
  const common = opCheck(row, env)
  const checks = /** @type {Check[]} */ ([own, common].filter(Boolean))
  /** @type {Check} */
  const check = async (a) => {
    for (const c of checks) {
      const problem = await c(a)
      if (problem) return problem
    }
    return null
  }
  const alt = row.renamedWithout
  return {
    caseName: benchEnv.bench.name,
    tool: alt && !benchEnv.ctx.declares(alt.input) ? alt.tool : row.tool,
    round,
    seeded: SEEDED.has(op),
    registries: row.registries ?? 1,
    latencyMs: benchEnv.bench.latencyMs,
    exec,
    check: checks.length ? check : undefined
  }
}

/**
 * One bench: its rounds, each running every row once. The order rotates from round to round: on
 * this VM the first run of a round measured slower whichever tool it was (pull 1g into a
 * directory: 2.5 s first in its round, 1.7 s second), so a fixed order would charge that to the
 * same tool every round; rotated, it lands on a different tool each round and the medians leave
 * it out.
 * @param {Ctx} ctx
 * @param {Bench} bench
 */
async function runBench(ctx, bench) {
  const info = ctx.layouts[bench.layout]
  const wireLayout = bench.wire ? await readLayoutDir(ctx.layouts[bench.wire].path) : null
  const rounds = bench.once ? 1 : Math.min(ctx.rounds, bench.maxRounds ?? Infinity)
  const fewer = rounds < ctx.rounds ? ` [${rounds} round${rounds > 1 ? 's' : ''}]` : ''
  console.log(
    `\n${bench.name}${bench.showSize ? ` (${gib(info.blobBytes)})` : ''}${bench.note ?? ''}${fewer}`
  )
  const family = familyOf(bench.layout)
  // The seed store is made when a run first needs it: before the round (and its Node start runs)
  // when the round starts with such a run, else right before it (rss: after a push to an empty
  // store).
  const seed = () => seedStorage(ctx, family, info)
  const benchEnv = { ctx, bench, info, wire: wireLayout }
  const rows = bench.rows.filter((r) => !r.needs || ctx.declares(r.needs))
  for (let round = 1; round <= rounds; round++) {
    const list = rows.map((row) => plan(row, benchEnv, round))
    const k = (round - 1) % list.length
    const ordered = [...list.slice(k), ...list.slice(0, k)]
    if (ordered[0]?.seeded) await seed()
    for (let i = 0; i < (bench.nodeStartRuns ?? 0); i++)
      ctx.nodeStartRepush.push(await nodeStartS())
    for (const job of ordered)
      await measure(ctx, { ...job, seed: job.seeded ? await seed() : undefined })
  }
  const made = ctx.seeds.get(family)
  if (bench.dropSeed && made) {
    await fsp.rm(made, { recursive: true, force: true })
    ctx.seeds.delete(family)
  }
}

/**
 * Every bench of a case; those of the 4 GiB layout only with --big (else said up front).
 * @param {Ctx} ctx
 * @param {Case} c
 */
export async function runCase(ctx, c) {
  for (const b of c.benches)
    if (b.big && !ctx.big) console.log(`\n${b.name}: skipped (${ctx.bigWhy})`)
  for (const b of c.benches) if (!b.big || ctx.big) await runBench(ctx, b)
}

/**
 * The layouts a case needs (its benches' layouts and wire forms).
 * @param {Case} c
 * @param {boolean} big
 */
export const layoutsOf = (c, big) =>
  c.benches.filter((b) => !b.big || big).flatMap((b) => (b.wire ? [b.layout, b.wire] : [b.layout]))
