// @ts-check
// The case table: what each `--cases` name runs, as data. A bench is one heading of the output
// (a layout and an operation); its rows are the tools, each run once per round, interleaved.
// Adding a case is adding an entry here; adding a tool is an adapter (ours.mjs, skopeo.mjs,
// wire.mjs) named by `adapter` in the rows.

import { REPO, REPO_B } from './common.mjs'

/** @import { Bench, Case, Row } from './types.mjs' */

/** @type {Row} */
const OURS = { tool: 'ours', adapter: 'ours' }
/** @type {Row} */
const SKOPEO = { tool: 'skopeo', adapter: 'skopeo' }
/** @type {Row} */
const WIRE = { tool: 'wire', adapter: 'wire' }

/**
 * Ours pushing to an empty registry: its digest output is checked as well as the registry's.
 * @type {Row}
 */
const OURS_PUSH = { ...OURS, outputDigest: true }
const PUSH_ROWS = [OURS_PUSH, SKOPEO, WIRE]

/**
 * @param {string} layout pushed
 * @param {string} wire the same bytes as a directory
 * @param {Row[]} [more] rows after ours, skopeo and the wire
 * @returns {Bench}
 */
const pushBench = (layout, wire, more = []) => ({
  name: `push ${layout}`,
  layout,
  wire,
  op: 'push',
  showSize: true,
  rows: [...PUSH_ROWS, ...more]
})

/** @type {Case[]} */
export const CASES = [
  {
    id: 'push',
    benches: [
      // --data-binary loads each blob into curl's memory first: slower, so not the wire's limit.
      pushBench('1g.tar', '1g-dir', [
        { tool: 'wire --data-binary', adapter: 'wire', dataBinary: true }
      ]),
      pushBench('1g-dir', '1g-dir'),
      pushBench('2p.tar', '2p-dir')
    ]
  },
  {
    id: 'pull',
    benches: ['1g', '2p'].map((family) => ({
      name: `pull ${family}`,
      layout: `${family}.tar`,
      wire: `${family}-dir`,
      op: 'pull',
      showSize: true,
      rows: [
        { tool: 'ours → dir', adapter: 'ours', into: 'layout' },
        { tool: 'ours → tar', adapter: 'ours', into: 'layout.tar' },
        { tool: 'skopeo → oci', adapter: 'skopeo', into: 'layout' },
        { tool: 'skopeo → oci-archive', adapter: 'skopeo', into: 'layout.tar' },
        WIRE
      ]
    }))
  },
  {
    id: 'repush',
    benches: [
      {
        name: 'repush 1g.tar',
        layout: '1g.tar',
        wire: '1g-dir',
        op: 'repush',
        note: ': the registry already holds the image',
        // Node's start under the same conditions, right before: the floor of this case.
        nodeStartRuns: 3,
        rows: [OURS, SKOPEO, WIRE]
      }
    ]
  },
  {
    id: 'mount',
    benches: [
      {
        name: 'mount 1g.tar',
        layout: '1g.tar',
        wire: '1g-dir',
        op: 'mount',
        note: `: ${REPO} holds the image, push it to ${REPO_B} on the same registry`,
        rows: [
          // A separate call, as in a later job: told where the blobs are (mount-from), and not.
          { tool: 'ours, mount-from: A', adapter: 'ours', needs: 'mount-from', mountFrom: 'A' },
          {
            tool: 'ours, no mount-from',
            adapter: 'ours',
            renamedWithout: { input: 'mount-from', tool: 'ours' }
          },
          // The action mounts from the first repository of the same call: reference A (already
          // there, one HEAD) with B among `tags`.
          { tool: 'ours, A + tags: B', adapter: 'ours', needs: 'tags', reference: 'A', tags: 'B' },
          SKOPEO,
          WIRE
        ]
      }
    ]
  },
  {
    id: 'rss',
    // Our peak RSS against blob size: a push into a fresh store, then pulls from a seeded one.
    benches: ['1g', '4g'].map((family) => ({
      name: `rss ${family}`,
      layout: `${family}.tar`,
      op: 'pull',
      showSize: true,
      note: ': our push, then our pulls from it',
      once: true,
      big: family === '4g',
      dropSeed: family === '4g',
      rows: [
        { tool: 'ours push', adapter: 'ours', op: 'push' },
        { tool: 'ours pull → dir', adapter: 'ours', into: 'layout' },
        { tool: 'ours pull → tar', adapter: 'ours', into: 'layout.tar' }
      ]
    }))
  },
  {
    id: 'big-layer',
    // One 640 MiB layer: the default upload (one PUT per blob, resumable only by re-sending)
    // against the chunked upload the action used before (PATCHes of 256 MiB).
    benches: [
      {
        ...pushBench('big1.tar', 'big1-dir'),
        note: ': one layer of 640 MiB',
        rows: [
          OURS_PUSH,
          {
            tool: 'ours chunk-size 256MiB',
            adapter: 'ours',
            outputDigest: true,
            inputs: { 'chunk-size': '256MiB' }
          },
          SKOPEO,
          WIRE
        ]
      }
    ]
  }
]

export const CASE_IDS = CASES.map((c) => c.id)
