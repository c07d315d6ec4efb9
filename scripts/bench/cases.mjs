// @ts-check
// The case table: what each `--cases` name runs, as data. A bench is one heading of the output
// (a layout and an operation); its rows are the tools, each run once per round, interleaved.
// Adding a case is adding an entry here; adding a tool is an adapter (ours.mjs, skopeo.mjs,
// wire.mjs) named by `adapter` in the rows.

import { REPO, REPO_B } from './common.mjs'

/** @import { Bench, Case, Row } from './types.mjs' */

/** Through delay-proxy.mjs: what a registry across the internet adds to every request. */
const LATENCY_MS = 50

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
      // `wire + sha256` is the wire with the least hashing a verifying client does beside it.
      pushBench('1g.tar', '1g-dir', [
        { tool: 'wire --data-binary', adapter: 'wire', dataBinary: true },
        { tool: 'wire + sha256', adapter: 'wire', hashToo: true }
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
  },
  {
    id: 'small',
    // 1,000 layers of 4 KiB: what each blob costs (requests, hashing set-up, log lines).
    benches: [
      {
        ...pushBench('small1k.tar', 'small1k-dir'),
        showSize: false,
        note: ': 1,000 layers of 4 KiB'
      },
      {
        name: 'pull small1k',
        layout: 'small1k.tar',
        wire: 'small1k-dir',
        op: 'pull',
        note: ': 1,000 layers of 4 KiB',
        rows: [
          { tool: 'ours → dir', adapter: 'ours', into: 'layout' },
          { tool: 'skopeo → oci', adapter: 'skopeo', into: 'layout' },
          WIRE
        ]
      }
    ]
  },
  {
    id: 'fanout',
    // One push to three registries: the layout is read and hashed once, whatever the count.
    benches: [
      {
        name: 'fanout 1g.tar',
        layout: '1g.tar',
        wire: '1g-dir',
        op: 'push',
        showSize: true,
        note: ': to 3 registries; ours in one call (reference on the first, the others in `tags`), skopeo one copy after another',
        rows: [
          { tool: 'ours → 3 registries', adapter: 'ours', registries: 3, outputDigest: true },
          { tool: 'ours → 1 registry', adapter: 'ours', outputDigest: true },
          { tool: 'skopeo → 3 registries', adapter: 'skopeo', registries: 3 },
          // What sending the bytes costs alone: the floor of what 2 more registries add to ours.
          { tool: 'wire → 3 registries', adapter: 'wire', registries: 3 },
          { tool: 'wire → 1 registry', adapter: 'wire' }
        ]
      }
    ]
  },
  {
    id: 'latency',
    // The small and the 1 GiB push again, each request held LATENCY_MS by a proxy. skopeo took
    // 5.3 minutes on the 1,000 layers (several requests per blob): one round of those.
    benches: [
      {
        ...pushBench('small1k.tar', 'small1k-dir'),
        name: 'latency small1k.tar',
        showSize: false,
        latencyMs: LATENCY_MS,
        maxRounds: 1,
        note: `: 1,000 layers of 4 KiB, ${LATENCY_MS} ms added to every request`
      },
      {
        ...pushBench('1g.tar', '1g-dir'),
        name: 'latency 1g.tar',
        latencyMs: LATENCY_MS,
        note: `: ${LATENCY_MS} ms added to every request`
      }
    ]
  },
  {
    id: 'tags100',
    // 100 tags of small images sharing a base layer: ours in one CLI call (restore, backup), skopeo
    // one copy per tag (its `sync` reads no OCI layout and writes none).
    benches: [
      {
        name: 'push tags100',
        layout: 'tags100-dir',
        wire: 'tags100-dir',
        op: 'push',
        note: ': 100 tags; ours `restore`, skopeo 100 copies',
        rows: [{ tool: 'ours restore', adapter: 'ours-cli' }, SKOPEO, WIRE]
      },
      {
        name: 'pull tags100',
        layout: 'tags100-dir',
        wire: 'tags100-dir',
        op: 'pull',
        note: ': 100 tags into one directory; ours `backup`, skopeo 100 copies',
        rows: [
          { tool: 'ours backup → dir', adapter: 'ours-cli', into: 'layout' },
          { tool: 'skopeo → oci', adapter: 'skopeo', into: 'layout' },
          WIRE
        ]
      }
    ]
  }
]

export const CASE_IDS = CASES.map((c) => c.id)
