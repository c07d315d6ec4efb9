// @ts-check
// The wire as a tool of the table: curl with every blob at once, the limit of the registry and
// the loopback. It hashes nothing and keeps no state, so what it costs is the transfer itself.

import fsp from 'node:fs/promises'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { TAG } from './common.mjs'
import { ACCEPT } from './layouts.mjs'
import { dirBytes, runProc } from './machine.mjs'

/**
 * @import { WireBlob, WireLayout, WireManifest } from './layouts.mjs'
 * @import { Adapter, Env, ToolResult } from './types.mjs'
 */

/** @typedef {Awaited<ReturnType<typeof curlBatch>>} Batch */

/**
 * Runs a batch of curl processes at once (each under GNU time). Peak RSS is the sum over the
 * batch (they all run together): an upper bound of the batch's combined peak.
 * @param {string[][]} argsList
 */
async function curlBatch(argsList) {
  const rs = await Promise.all(argsList.map((a) => runProc('curl', ['-s', '-S', ...a])))
  return {
    results: rs,
    rssKiB: rs.reduce((s, r) => s + (r.rssKiB ?? 0), 0) || null,
    cpu: rs.reduce((s, r) => s + (r.cpu ?? 0), 0)
  }
}

/** @param {Batch} batch @param {string[]} want HTTP codes @param {string} what */
function checkCodes(batch, want, what) {
  for (const r of batch.results) {
    const code = r.stdout.trim().split('\n').pop() ?? ''
    if (r.code !== 0 || !want.includes(code))
      throw new Error(`${what}: curl exit ${r.code}, HTTP ${code} ${r.stderr.trim()}`)
  }
}

/**
 * A batch whose every answer must carry one of `want`: the curl arguments end in `-w` with the
 * status code, so a failed request is seen without parsing headers.
 * @param {string[][]} argsList each without the trailing `-w %{http_code} URL`
 * @param {string[]} urls
 * @param {string[]} want
 * @param {string} what
 */
async function checkedBatch(argsList, urls, want, what) {
  const b = await curlBatch(argsList.map((a, i) => [...a, '-w', '%{http_code}\n', urls[i]]))
  checkCodes(b, want, what)
  return b
}

/** @param {number} started performance.now() at the start @param {Batch} main @param {number} cpu */
const result = (started, main, cpu) => ({
  wall: (performance.now() - started) / 1000,
  rssKiB: main.rssKiB,
  cpu
})

/** @param {WireManifest} m */
const putManifestArgs = (m) => [
  '-X',
  'PUT',
  '--data-binary',
  `@${m.file}`,
  '-H',
  `Content-Type: ${m.mediaType}`,
  '-o',
  '/dev/null'
]

/**
 * Manifests children first (each level at once), the root by tag.
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
    const ms = levels.get(depth) ?? []
    const urls = ms.map((m) => `${base}/manifests/${m.digest}`)
    cpu += (await checkedBatch(ms.map(putManifestArgs), urls, ['201'], 'wire PUT manifest')).cpu
  }
  return { cpu: cpu + (await putTag(base, layout)).cpu }
}

/** @param {string} base @param {WireLayout} layout */
function putTag(base, layout) {
  const root = /** @type {WireManifest} */ (layout.manifests.find((m) => m.depth === 0))
  return checkedBatch(
    [putManifestArgs(root)],
    [`${base}/manifests/${TAG}`],
    ['201'],
    'wire PUT tag'
  )
}

/**
 * Every blob at once: POST an upload, then one monolithic PUT (curl -T, streaming the file); then
 * the manifests, children first, the root by tag last.
 * @param {string} host @param {string} repo @param {WireLayout} layout
 * @returns {Promise<ToolResult>}
 */
async function wirePush(host, repo, layout, dataBinary = false) {
  const started = performance.now()
  const base = `http://${host}/v2/${repo}`
  const posts = await curlBatch(
    layout.blobs.map(() => ['-X', 'POST', '-o', '/dev/null', '-D', '-', `${base}/blobs/uploads/`])
  )
  const locations = posts.results.map((r) => {
    const loc = /^location:\s*(\S+)/im.exec(r.stdout)?.[1]
    if (!loc) throw new Error(`wire POST: no Location (${r.stderr.trim() || r.stdout.trim()})`)
    return new URL(loc, `http://${host}`).href
  })
  // -T streams the file; --data-binary @FILE (the variant `wire --data-binary`) first reads the
  // whole blob into curl's memory, and measured ~1.7x slower here: not the wire's limit.
  const body = (/** @type {WireBlob} */ b) =>
    dataBinary ? ['--data-binary', `@${b.file}`] : ['-T', b.file]
  const puts = await checkedBatch(
    layout.blobs.map((b) => [
      '-X',
      'PUT',
      ...body(b),
      '-H',
      'Content-Type: application/octet-stream',
      '-o',
      '/dev/null'
    ]),
    layout.blobs.map(
      (b, i) => `${locations[i]}${locations[i].includes('?') ? '&' : '?'}digest=${b.digest}`
    ),
    ['201'],
    'wire PUT blob'
  )
  const man = await putManifests(base, layout)
  return result(started, puts, posts.cpu + puts.cpu + man.cpu)
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
    all.map(([d, kind]) => [
      '-f',
      ...(kind === 'manifests' ? ['-H', `Accept: ${ACCEPT}`] : []),
      '-o',
      path.join(dir, d.digest.split(':')[1])
    ]),
    all.map(([d, kind]) => `${base}/${kind}/${d.digest}`),
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
      ...layout.manifests.map(() => ['-I', '-H', `Accept: ${ACCEPT}`, '-o', '/dev/null']),
      ...layout.blobs.map(() => ['-I', '-o', '/dev/null'])
    ],
    [
      ...layout.manifests.map((m) => `${base}/manifests/${m.digest}`),
      ...layout.blobs.map((b) => `${base}/blobs/${b.digest}`)
    ],
    ['200'],
    'wire HEAD'
  )
  const tag = await putTag(base, layout)
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
    layout.blobs.map(() => ['-X', 'POST', '-o', '/dev/null']),
    layout.blobs.map((b) => `${base}/blobs/uploads/?mount=${b.digest}&from=${from}`),
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

/** @type {Adapter} */
export const wire = {
  push: ({ dataBinary }, env) => {
    const layout = wireOf(env)
    return { exec: ({ host, repo }) => wirePush(host, repo, layout, dataBinary) }
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
