// @ts-check
// skopeo as a tool of the table: `skopeo copy --all --preserve-digests` between the layout (a
// tar as oci-archive:, a directory as oci:) and docker://.

import path from 'node:path'
import { TAG, lastLines, pushPullAdapter, repoNamed } from './common.mjs'
import { runProc } from './machine.mjs'

/** @import { Adapter, Env, Job, Row } from './types.mjs' */

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

/** @type {(row: Row, env: Env) => Job} */
const push = (_row, { ctx, bench, info, dest }) => ({
  exec: (t) =>
    runSkopeo(
      [
        '--dest-tls-verify=false',
        `${bench.layout.endsWith('-dir') ? 'oci' : 'oci-archive'}:${info.path}:${TAG}`,
        `docker://${t.host}/${repoNamed(t, dest)}:${TAG}`
      ],
      ctx.work
    )
})

/** @type {Adapter} */
export const skopeo = pushPullAdapter(push, ({ host, out, repo }, into, { ctx }) =>
  runSkopeo(
    [
      '--src-tls-verify=false',
      `docker://${host}/${repo}:${TAG}`,
      `${into === 'layout' ? 'oci' : 'oci-archive'}:${path.join(out, into)}:${TAG}`
    ],
    ctx.work
  )
)
