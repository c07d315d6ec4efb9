// @ts-check
// The wire as a tool of the table: curl with every blob at once (up to LANES curl processes), the
// limit of the registry and the loopback. It hashes nothing and keeps no state, so what it costs
// is the transfer itself.

import fsp from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { ACCEPT } from './layouts.mjs'
import { dirBytes, runProc } from './machine.mjs'

/** The least hashing a verifying client does (the `wire + sha256` row). */
const HASH_FILES = new URL('./hash-files.mjs', import.meta.url).pathname

/**
 * @import { WireBlob, WireLayout, WireManifest } from './layouts.mjs'
 * @import { Adapter, Env, ToolResult } from './types.mjs'
 */

/**
 * One transfer: its curl options (`-T FILE`, `-o PATH`, …) and its URL.
 * @typedef {{ args: string[], url: string }} Req
 * @typedef {Awaited<ReturnType<typeof curlLanes>>} Batch
 */

/**
 * At most this many curl processes at once. A layout of a few blobs gets one process per blob,
 * all at once; a layout of a thousand shares them out, each process taking its share one after
 * another over one kept-alive connection, rather than starting a thousand processes on 2 cores.
 */
export const LANES = 32

/**
 * Runs the transfers in at most LANES curl processes at once (each under GNU time), the
 * transfers of a process separated by `--next`. Each transfer prints `format` (its `-w`), one
 * line: `lines` holds them in the order of `reqs`. Peak RSS is the sum over the processes (they
 * all run together): an upper bound of their combined peak.
 * @param {Req[]} reqs
 * @param {string} format `-w`, ending in a newline
 */
async function curlLanes(reqs, format) {
  const n = Math.min(LANES, reqs.length)
  /** @type {number[][]} */
  const lanes = Array.from({ length: n }, () => [])
  reqs.forEach((_r, i) => lanes[i % n].push(i))
  const rs = await Promise.all(
    lanes.map((lane) =>
      runProc(
        'curl',
        lane.flatMap((i, k) => [
          ...(k ? ['--next'] : []),
          ...['-s', '-S', ...reqs[i].args, '-w', format, reqs[i].url]
        ])
      )
    )
  )
  /** @type {string[]} */
  const lines = []
  rs.forEach((r, l) => {
    const out = r.stdout.split('\n')
    lanes[l].forEach((i, k) => (lines[i] = out[k] ?? ''))
  })
  return {
    results: rs,
    lines,
    rssKiB: rs.reduce((s, r) => s + (r.rssKiB ?? 0), 0) || null,
    cpu: rs.reduce((s, r) => s + (r.cpu ?? 0), 0)
  }
}

/**
 * Transfers whose every answer must carry one of `want` (the status code is `-w`'s first word),
 * so a failed request is seen without parsing headers.
 * @param {Req[]} reqs
 * @param {string[]} want
 * @param {string} what
 * @param {string} [more] more of `-w` after the code
 */
async function checkedBatch(reqs, want, what, more = '') {
  const b = await curlLanes(reqs, `%{http_code}${more}\n`)
  b.lines.forEach((line, i) => {
    const code = line.split(' ')[0]
    if (!want.includes(code)) {
      const r = b.results.find((x) => x.code !== 0) ?? b.results[0]
      throw new Error(
        `${what}: HTTP ${code || '(none)'} for ${reqs[i].url} (curl exit ${r.code} ${r.stderr.trim()})`
      )
    }
  })
  return b
}

/** @param {number} started performance.now() at the start @param {Batch} main @param {number} cpu */
const result = (started, main, cpu) => ({
  wall: (performance.now() - started) / 1000,
  rssKiB: main.rssKiB,
  cpu
})

/** @param {WireManifest} m @param {string} url */
const putManifest = (m, url) => ({
  args: ['-X', 'PUT', '--data-binary', `@${m.file}`, '-H', `Content-Type: ${m.mediaType}`].concat([
    '-o',
    '/dev/null'
  ]),
  url
})

/**
 * Manifests children first (each level at once), then the tagged ones by tag.
 * @param {string} base
 * @param {WireLayout} layout
 */
async function putManifests(base, layout) {
  let cpu = 0
  /** @type {Map<number, WireManifest[]>} */
  const levels = new Map()
  for (const m of layout.manifests) {
    if (m.depth === 0) continue
    const level = levels.get(m.depth) ?? []
    levels.set(m.depth, level)
    level.push(m)
  }
  for (const depth of [...levels.keys()].sort((a, b) => b - a)) {
    const ms = (levels.get(depth) ?? []).map((m) => putManifest(m, `${base}/manifests/${m.digest}`))
    cpu += (await checkedBatch(ms, ['201'], 'wire PUT manifest')).cpu
  }
  return { cpu: cpu + (await putTags(base, layout)).cpu }
}

/** Every tagged manifest of the layout, by its tag. @param {string} base @param {WireLayout} layout */
function putTags(base, layout) {
  const reqs = layout.tags.map((t) => putManifest(t.manifest, `${base}/manifests/${t.tag}`))
  return checkedBatch(reqs, ['201'], 'wire PUT tag')
}

/**
 * Every blob at once: POST an upload, then one monolithic PUT (curl -T, streaming the file); then
 * the manifests, children first, the root by tag last.
 * @param {string} host @param {string} repo @param {WireLayout} layout
 * @returns {Promise<ToolResult>}
 */
async function wirePush(host, repo, layout, dataBinary = false, hashToo = false) {
  const started = performance.now()
  const base = `http://${host}/v2/${repo}`
  const posts = await checkedBatch(
    layout.blobs.map(() => ({
      args: ['-X', 'POST', '-o', '/dev/null'],
      url: `${base}/blobs/uploads/`
    })),
    ['202'],
    'wire POST',
    ' %header{location}'
  )
  const locations = posts.lines.map((line) => {
    const loc = line.split(' ')[1]
    if (!loc) throw new Error(`wire POST: no Location (${line})`)
    return new URL(loc, `http://${host}`).href
  })
  // -T streams the file; --data-binary @FILE (the variant `wire --data-binary`) first reads the
  // whole blob into curl's memory, and measured ~1.7x slower here: not the wire's limit.
  const body = (/** @type {WireBlob} */ b) =>
    dataBinary ? ['--data-binary', `@${b.file}`] : ['-T', b.file]
  // `wire + sha256`: every blob hashed beside its upload, as a verifying client must.
  const hashed = hashToo
    ? runProc(process.execPath, [HASH_FILES, ...layout.blobs.map((b) => b.file)])
    : undefined
  const puts = await checkedBatch(
    layout.blobs.map((b, i) => ({
      args: ['-X', 'PUT', ...body(b), '-H', 'Content-Type: application/octet-stream'].concat([
        '-o',
        '/dev/null'
      ]),
      url: `${locations[i]}${locations[i].includes('?') ? '&' : '?'}digest=${b.digest}`
    })),
    ['201'],
    'wire PUT blob'
  )
  const hash = await hashed
  if (hash && hash.code !== 0) throw new Error(`wire + sha256: ${hash.stderr.trim()}`)
  const man = await putManifests(base, layout)
  return result(started, puts, posts.cpu + puts.cpu + man.cpu + (hash?.cpu ?? 0))
}

/**
 * Every blob and manifest fetched at once into a fresh directory.
 * @param {string} host @param {string} repo @param {WireLayout} layout @param {string} outDir
 * @returns {Promise<ToolResult>}
 */
async function wirePull(host, repo, layout, outDir) {
  const started = performance.now()
  const dir = path.join(outDir, 'blobs', 'sha256')
  await fsp.mkdir(dir, { recursive: true })
  const base = `http://${host}/v2/${repo}`
  /** @type {[WireBlob, 'manifests' | 'blobs'][]} */
  const all = [
    ...layout.manifests.map((m) => /** @type {[WireBlob, 'manifests']} */ ([m, 'manifests'])),
    ...layout.blobs.map((x) => /** @type {[WireBlob, 'blobs']} */ ([x, 'blobs']))
  ]
  const b = await checkedBatch(
    all.map(([d, kind]) => ({
      args: [
        ...(kind === 'manifests' ? ['-H', `Accept: ${ACCEPT}`] : []),
        ...['-o', path.join(dir, d.digest.split(':')[1])]
      ],
      url: `${base}/${kind}/${d.digest}`
    })),
    ['200'],
    'wire GET'
  )
  return result(started, b, b.cpu)
}

/**
 * A re-push at the wire: HEAD everything at once, then PUT the tag.
 * @param {string} host @param {string} repo @param {WireLayout} layout
 * @returns {Promise<ToolResult>}
 */
async function wireRepush(host, repo, layout) {
  const started = performance.now()
  const base = `http://${host}/v2/${repo}`
  const heads = await checkedBatch(
    [
      ...layout.manifests.map((m) => ({
        args: ['-I', '-H', `Accept: ${ACCEPT}`, '-o', '/dev/null'],
        url: `${base}/manifests/${m.digest}`
      })),
      ...layout.blobs.map((b) => ({
        args: ['-I', '-o', '/dev/null'],
        url: `${base}/blobs/${b.digest}`
      }))
    ],
    ['200'],
    'wire HEAD'
  )
  const tag = await putTags(base, layout)
  return result(started, heads, heads.cpu + tag.cpu)
}

/**
 * Cross-repository mount at the wire: one POST ?mount=&from= per blob, at once; then manifests.
 * @param {string} host @param {string} from @param {string} repo @param {WireLayout} layout
 * @returns {Promise<ToolResult>}
 */
async function wireMount(host, from, repo, layout) {
  const started = performance.now()
  const base = `http://${host}/v2/${repo}`
  const mounts = await checkedBatch(
    layout.blobs.map((b) => ({
      args: ['-X', 'POST', '-o', '/dev/null'],
      url: `${base}/blobs/uploads/?mount=${b.digest}&from=${from}`
    })),
    ['201'],
    'wire mount'
  )
  const man = await putManifests(base, layout)
  return result(started, mounts, mounts.cpu + man.cpu)
}

/** @param {Env} env */
const wireOf = ({ wire, bench }) => {
  if (!wire) throw new Error(`${bench.name}: no wire layout in the case table`)
  return wire
}

/**
 * The wire push to each of several registries at once: CPU and peak RSS summed, wall overall.
 * @param {string[]} hosts @param {string} repo @param {WireLayout} layout
 * @returns {Promise<ToolResult>}
 */
async function wirePushEach(hosts, repo, layout) {
  const started = performance.now()
  const each = await Promise.all(hosts.map((h) => wirePush(h, repo, layout, false)))
  return {
    wall: (performance.now() - started) / 1000,
    rssKiB: each.reduce((s, r) => s + (r.rssKiB ?? 0), 0) || null,
    cpu: each.reduce((s, r) => s + (r.cpu ?? 0), 0)
  }
}

/** @type {Adapter} */
export const wire = {
  push: ({ dataBinary, hashToo, registries }, env) => {
    const layout = wireOf(env)
    if (registries && registries > 1)
      return { exec: ({ hosts, repo }) => wirePushEach(hosts.slice(0, registries), repo, layout) }
    return { exec: ({ host, repo }) => wirePush(host, repo, layout, dataBinary, hashToo) }
  },
  repush: (_row, env) => {
    const layout = wireOf(env)
    return { exec: ({ host, repo }) => wireRepush(host, repo, layout) }
  },
  mount: (_row, env) => {
    const layout = wireOf(env)
    return { exec: ({ host, repo, repoB }) => wireMount(host, repo, repoB, layout) }
  },
  pull: (_row, env) => {
    const layout = wireOf(env)
    return {
      exec: ({ host, out, repo }) => wirePull(host, repo, layout, path.join(out, 'layout')),
      check: async ({ out }) => {
        const got = await dirBytes(path.join(out, 'layout', 'blobs'))
        const want = layout.blobBytes + layout.manifests.reduce((s, m) => s + m.size, 0)
        return got === want ? null : `wire pull wrote ${got} bytes, want ${want}`
      }
    }
  }
}
