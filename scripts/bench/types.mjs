// @ts-check
// The shapes the benchmark's modules pass to each other: a case table row, the adapter that
// runs it, one measured run. Types only; nothing runs here.

/**
 * @import { LayoutInfo, WireLayout } from './layouts.mjs'
 */

/**
 * What every row of a bench does. `repush`, `mount` and `pull` start from a registry that
 * already holds the image (a copy of the seed store); `mount` pushes to the second repository.
 * @typedef {'push' | 'repush' | 'mount' | 'pull'} Op
 */

/** @typedef {'A' | 'B'} RepoName the run's first repository (REPO-id) or its second (REPO_B-id) */

/**
 * One row of the table: a tool doing the bench's operation.
 * @typedef {object} Row
 * @property {string} tool the name the table shows
 * @property {'ours' | 'ours-cli' | 'skopeo' | 'wire'} adapter `ours-cli`: `node dist/cli.js`, every tag of the layout in one call (restore, backup)
 * @property {Op} [op] instead of the bench's
 * @property {string} [needs] an action.yml input the row needs; without it the row is left out
 * @property {{ input: string, tool: string }} [renamedWithout] the name when action.yml lacks `input`
 * @property {'layout' | 'layout.tar'} [into] pulls: the output under the run's directory
 * @property {boolean} [outputDigest] ours: check the action's digest output too
 * @property {RepoName} [reference] ours: the repository pushed to, instead of the bench's
 * @property {RepoName} [tags] ours: HOST/<repository>:TAG in `tags`
 * @property {RepoName} [mountFrom] ours: `mount-from: <repository>`
 * @property {Record<string, string>} [inputs] ours: more action inputs
 * @property {boolean} [dataBinary] wire push: `--data-binary @FILE` instead of `-T FILE`
 * @property {boolean} [hashToo] wire push: each blob also hashed beside its upload (hash-files.mjs)
 * @property {number} [registries] a push to that many registries (default 1), each checked
 *   afterwards: ours names the others in `tags` (HOST/<repository>:TAG), skopeo copies to each in
 *   turn
 */

/**
 * One line of the benchmark's output: a layout, an operation, the tools that do it.
 * @typedef {object} Bench
 * @property {string} name the case column, e.g. `push 1g.tar`
 * @property {string} layout what is pushed, or seeded for a pull
 * @property {string} [wire] the directory layout the wire sends (same bytes as `layout`)
 * @property {Op} op
 * @property {boolean} [showSize] show the layout's size in the heading
 * @property {string} [note] the rest of the heading
 * @property {boolean} [once] one round whatever --rounds says
 * @property {number} [maxRounds] at most that many rounds (a slow bench)
 * @property {number} [latencyMs] every registry behind delay-proxy.mjs, adding this to each request
 * @property {boolean} [big] only with the 4 GiB layout on (--big)
 * @property {boolean} [dropSeed] delete its seed store afterwards (it is large)
 * @property {number} [nodeStartRuns] `node -e 0` runs before each round (re-push's floor)
 * @property {Row[]} rows
 */

/** @typedef {{ id: string, benches: Bench[] }} Case one `--cases` name */

/**
 * Where a run goes: its registry, its output directory and its two repository names. `hosts`:
 * every registry of the run (`host` first), as the tool reaches them (through the delay proxy
 * when there is one); `registryHosts`: the same registries, reached directly.
 * @typedef {{ host: string, hosts: string[], registryHosts: string[], out: string, repo: string, repoB: string }} Target
 */

/**
 * What a tool's run gives back. Wire results have no `error`: a failed curl throws.
 * @typedef {object} ToolResult
 * @property {number} wall seconds
 * @property {number | null} rssKiB
 * @property {number | null} cpu
 * @property {number | null} [sys] the kernel part of `cpu` (ours)
 * @property {string | null} [error]
 * @property {string | null} [digest] ours: the digest output
 * @property {Record<string, number>} [outcomes] ours: blob and manifest log lines by outcome
 * @property {number} [layerBytesUploaded] ours
 * @property {string | null} [summary] ours: the closing Pushed/Pulled line
 */

/** @typedef {(t: Target & { result: ToolResult }) => Promise<string | null>} Check */

/**
 * A row made runnable: what to run against a target, and what to check afterwards.
 * @typedef {{ exec: (t: Target) => Promise<ToolResult>, check?: Check }} Job
 */

/**
 * What an adapter is given for a row: the run's context, the bench's layout and its wire form.
 * @typedef {object} Env
 * @property {Ctx} ctx
 * @property {Bench} bench
 * @property {Op} op
 * @property {LayoutInfo} info
 * @property {WireLayout | null} wire
 * @property {RepoName} dest where a push goes: B for a mount, else A
 */

/** @typedef {Partial<Record<Op, (row: Row, env: Env) => Job>>} Adapter */

/**
 * The state of one benchmark run.
 * @typedef {object} Ctx
 * @property {number} rounds
 * @property {Set<string>} cases
 * @property {boolean} big
 * @property {string} bigWhy
 * @property {string | undefined} concurrency
 * @property {number} quietWait
 * @property {Record<string, LayoutInfo>} layouts
 * @property {string} work the run's directory under .bench/, deleted at the end
 * @property {Map<string, string>} seeds seed stores by layout family
 * @property {Record<string, string>} actionDefaults action.yml's input defaults
 * @property {(input: string) => boolean} declares whether action.yml has that input
 * @property {number[]} nodeStartRepush
 * @property {RunRecord[]} runs
 */

/**
 * One measured run, as the JSON holds it.
 * @typedef {object} RunRecord
 * @property {string} case
 * @property {string} tool
 * @property {number} round
 * @property {string} at
 * @property {string} [action] ours: the first 12 hex digits of dist/index.js's sha256
 * @property {number} [busyBefore]
 * @property {number} [wall]
 * @property {number | null} [rssMiB]
 * @property {number | null} [clientCpu]
 * @property {number | null} [clientSysCpu] the kernel part of it (ours)
 * @property {number} [registries] registries the run had (when more than one)
 * @property {number} [registryCpu] summed over the run's registries
 * @property {number | null} [proxyCpu] the delay proxies' CPU (latency benches)
 * @property {number} [otherCpu]
 * @property {number | null} [busyCores] the median of the machine's busy cores, sampled every 100 ms
 * @property {number} [registryReadMiB]
 * @property {number} [registryWriteMiB]
 * @property {boolean} ok
 * @property {string} [error]
 * @property {Record<string, number>} [outcomes]
 * @property {number} [layerMiBUploaded]
 * @property {string} [summary]
 */

export {}
