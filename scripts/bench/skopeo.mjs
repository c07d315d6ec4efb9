// @ts-check
// skopeo as a tool of the table: `skopeo copy --all --preserve-digests` between the layout (a
// tar as oci-archive:, a directory as oci:) and docker://. What a user would run: one copy per
// tag of the layout, and per registry of a push to several, one after another.

import path from 'node:path'
import { lastLines, pushPullAdapter, repoNamed } from './common.mjs'
import { runProc } from './machine.mjs'

/**
 * @import { ProcResult } from './machine.mjs'
 * @import { Adapter, Env, Job, Row, ToolResult } from './types.mjs'
 */

/**
 * @param {string[]} args after `skopeo copy --all --preserve-digests --insecure-policy`
 * @param {string} work
 */
export async function runSkopeo(args, work) {
  const env = { ...process.env, TMPDIR: work } // its oci-archive scratch goes to our disk, and away
  const r = await runProc(
    'skopeo',
    ['copy', '--all', '--preserve-digests', '--insecure-policy', ...args],
    { env }
  )
  return { ...r, error: r.code === 0 ? null : lastLines(r.stderr) }
}

/**
 * Copies one after another, as one result: wall and CPU summed, the highest peak RSS; the first
 * failure ends it.
 * @param {string[][]} argsList
 * @param {string} work
 * @returns {Promise<ToolResult>}
 */
async function runSkopeoEach(argsList, work) {
  /** @type {ProcResult & { error: string | null }} */
  let sum = { code: 0, wall: 0, rssKiB: null, cpu: null, stdout: '', stderr: '', error: null }
  for (const args of argsList) {
    const r = await runSkopeo(args, work)
    sum = {
      ...r,
      wall: sum.wall + r.wall,
      rssKiB: Math.max(sum.rssKiB ?? 0, r.rssKiB ?? 0) || null,
      cpu: r.cpu === null ? sum.cpu : (sum.cpu ?? 0) + r.cpu
    }
    if (r.error) break
  }
  return sum
}

/** @type {(row: Row, env: Env) => Job} */
const push = (row, { ctx, info, dest }) => ({
  exec: (t) =>
    runSkopeoEach(
      t.hosts
        .slice(0, row.registries ?? 1)
        .flatMap((host) =>
          info.refs.map(({ tag }) => [
            '--dest-tls-verify=false',
            `${info.format === 'dir' ? 'oci' : 'oci-archive'}:${info.path}:${tag}`,
            `docker://${host}/${repoNamed(t, dest)}:${tag}`
          ])
        ),
      ctx.work
    )
})

/** @type {Adapter} */
export const skopeo = pushPullAdapter(push, ({ host, out, repo }, into, { ctx, info }) =>
  runSkopeoEach(
    info.refs.map(({ tag }) => [
      '--src-tls-verify=false',
      `docker://${host}/${repo}:${tag}`,
      `${into === 'layout' ? 'oci' : 'oci-archive'}:${path.join(out, into)}:${tag}`
    ]),
    ctx.work
  )
)
