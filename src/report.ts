import type { CopyEvent, TransferOutcome } from './copy/copy.js'
import { formatBytes } from './format.js'
import { shortDigest } from './oci/types.js'
import type { TransferResult } from './transfer/result.js'

/** One manifest or blob as it ended up at a destination. */
export interface ReportRow {
  digest: string
  kind: 'blob' | 'manifest'
  size: number
  outcome: TransferOutcome
  /** Part of a referrer (signature, SBOM…) rather than of the image. */
  referrer: boolean
}

/** What one destination (a repository pushed to, or the layout pulled into) got. */
export interface DestinationReport {
  /** `host/repository`, or the layout's path. */
  target: string
  /** Tags written there, bare. */
  tags: string[]
  /** Manifests and blobs it needed: the image's and its referrers'. */
  items: number
  /** Their bytes. */
  bytes: number
  /** The items there was an answer for, in the order they were done. */
  rows: ReportRow[]
}

/** What the log does with an event: a group to be in (`null`: none), and a line to print. */
export interface LogNote {
  group?: string | null
  line?: string
}

/** Tallies of a destination (or of several), for log lines and the summary. */
interface Tally {
  uploaded: number
  mounted: number
  present: number
  sent: number
}

/**
 * What happened to each blob and manifest, per destination, for the log and the job summary.
 * Figures are per destination: a push to three repositories sends up to three times the image.
 */
export class TransferReport {
  readonly started = Date.now()
  readonly destinations: DestinationReport[] = []
  #current?: DestinationReport
  /** The current graph's rows by digest: a blob answered twice (present, then sent) counts once. */
  #segment = new Map<string, ReportRow>()
  #referrers = false
  /** The image's root digest, once its graph is done (the last manifest of a destination's first graph). */
  #root = ''

  /**
   * @param pushing push (layout → registries) or pull (registry → layout)
   * @param source for a pull, the reference pulled from (titles its group)
   */
  constructor(
    readonly pushing: boolean,
    readonly source = ''
  ) {}

  /** Folds an engine event in; returns what the log does with it. */
  note(e: CopyEvent): LogNote {
    switch (e.type) {
      case 'graph': {
        let d = this.destinations.find((x) => x.target === e.target)
        // A destination's first graph is the image; later ones are its referrers.
        this.#referrers = d !== undefined
        if (!d) {
          d = { target: e.target, tags: [], items: 0, bytes: 0, rows: [] }
          this.destinations.push(d)
        }
        this.#current = d
        this.#segment = new Map()
        d.items += e.nodes
        d.bytes += e.bytes
        return { group: this.#title(d), line: `${e.nodes} items, ${formatBytes(e.bytes)} in all` }
      }
      case 'blob':
      case 'manifest': {
        const d = this.#current
        if (d) {
          const seen = this.#segment.get(e.desc.digest)
          if (seen) seen.outcome = e.outcome
          else {
            const row: ReportRow = {
              digest: e.desc.digest,
              kind: e.type,
              size: e.desc.size,
              outcome: e.outcome,
              referrer: this.#referrers
            }
            this.#segment.set(e.desc.digest, row)
            d.rows.push(row)
          }
          if (e.type === 'manifest' && !this.#referrers && d === this.destinations[0])
            this.#root = e.desc.digest
        }
        return {
          line: `${e.type === 'manifest' ? 'manifest' : 'blob    '} ${shortDigest(e.desc.digest)}  ${formatBytes(e.desc.size).padStart(10)}  ${this.outcomeText(e.outcome)}`
        }
      }
      case 'progress':
        return {
          line: `blob     ${shortDigest(e.desc.digest)}  ${formatBytes(e.bytes)} of ${formatBytes(e.desc.size)} (${Math.floor((100 * e.bytes) / e.desc.size)}%)`
        }
      case 'tag': {
        const target = e.target ?? this.#current?.target
        const d = this.destinations.find((x) => x.target === target)
        if (d && !d.tags.includes(e.tag)) d.tags.push(e.tag)
        // Tags are written once every destination holds the image: outside the transfer groups.
        return { group: null, line: `tagged ${target ? `${target}:${e.tag}` : e.tag}` }
      }
    }
  }

  #title(d: DestinationReport): string {
    const where = this.pushing ? d.target : this.source || d.target
    if (!this.#referrers) return `${this.pushing ? 'Pushing to' : 'Pulling from'} ${where}`
    return `Referrers of ${this.#root || 'the image'} ${this.pushing ? 'to' : 'from'} ${where}`
  }

  outcomeText(o: TransferOutcome): string {
    if (o === 'exists') return 'already present'
    if (o === 'mounted') return 'mounted'
    return this.pushing ? 'uploaded' : 'downloaded'
  }

  #tally(ds: DestinationReport[]): Tally {
    const t: Tally = { uploaded: 0, mounted: 0, present: 0, sent: 0 }
    for (const d of ds) {
      const moved = d.rows.filter((r) => r.outcome !== 'exists')
      t.uploaded += moved.filter((r) => r.outcome === 'uploaded').length
      t.mounted += moved.filter((r) => r.outcome === 'mounted').length
      // What the engine skipped without asking (all under a root already there) is present too.
      t.present += d.items - moved.length
      t.sent += moved.filter((r) => r.outcome === 'uploaded').reduce((n, r) => n + r.size, 0)
    }
    return t
  }

  /** `3 uploaded, 10 mounted, 1 already present`, the empty ones left out. */
  #counts(t: Tally): string {
    const parts = [
      t.uploaded ? `${t.uploaded} ${this.outcomeText('uploaded')}` : '',
      t.mounted ? `${t.mounted} mounted` : '',
      t.present ? `${t.present} already present` : ''
    ].filter(Boolean)
    return parts.join(', ') || 'nothing'
  }

  /**
   * What moved, in words that never claim more than there was: `X sent of Y` for one destination,
   * `X sent to N destinations (image Y)` for several, or that nothing needed sending.
   */
  moved(): string {
    const ds = this.destinations
    const t = this.#tally(ds)
    const verb = this.pushing ? 'sent' : 'received'
    if (t.uploaded + t.mounted === 0) {
      const items = ds.map((d) => d.items)
      const each = items.every((n) => n === items[0])
      const present =
        ds.length <= 1
          ? `${items[0] ?? 0} items already present`
          : each
            ? `${items[0]} items already present at each of ${ds.length} destinations`
            : `${t.present} items already present at ${ds.length} destinations`
      return `nothing to ${this.pushing ? 'send' : 'download'}, ${present}`
    }
    const image = ds[0]?.bytes ?? 0
    return ds.length === 1
      ? `${formatBytes(t.sent)} ${verb} of ${formatBytes(image)}`
      : `${formatBytes(t.sent)} ${verb} to ${ds.length} destinations (image ${formatBytes(image)})`
  }

  #seconds(): number {
    return (Date.now() - this.started) / 1000
  }

  /**
   * The closing log lines: with several destinations, one line each of what it got; then the
   * line naming what was pushed or pulled, and the bytes moved.
   */
  closing(result: TransferResult & { layout?: string }): string[] {
    const ds = this.destinations
    const t = this.#tally(ds)
    const lines =
      ds.length > 1
        ? ds.map((d) => {
            const dt = this.#tally([d])
            return `${d.target}: ${this.#counts(dt)}; ${formatBytes(dt.sent)} ${this.pushing ? 'sent' : 'received'}`
          })
        : []
    const counts = ds.length === 1 && t.uploaded + t.mounted > 0 ? ` (${this.#counts(t)})` : ''
    const moved = `${this.moved()}${counts} in ${this.#seconds().toFixed(1)} s`
    const name = this.#name(result)
    lines.push(
      this.pushing
        ? `Pushed ${name} (${result.digest}): ${moved}`
        : `Pulled ${name} (${result.digest}) into ${result.layout}: ${moved}`
    )
    return lines
  }

  /** The job summary, as Markdown: what moved where, the per-item details folded per destination. */
  summary(result: TransferResult & { layout?: string }): string {
    const seconds = Math.max(this.#seconds(), 0.001)
    const t = this.#tally(this.destinations)
    const rate = t.sent > 0 ? ` (${formatBytes(t.sent / seconds)}/s)` : ''
    const types = [...new Set(result.referrers.map((r) => r.artifactType ?? r.mediaType))]
    const pushing = this.pushing
    const lines = [
      `### ${pushing ? 'Pushed' : 'Pulled'} \`${this.#name(result)}\``,
      '',
      `| | |`,
      `| --- | --- |`,
      `| reference | \`${result.reference}\` |`,
      `| digest | \`${result.digest}\` |`,
      `| media type | \`${result.mediaType}\` |`,
      ...(result.platforms.length ? [`| platforms | ${result.platforms.join(', ')} |`] : []),
      ...(result.referrers.length
        ? [`| referrers | ${result.referrers.length}: ${types.map((a) => `\`${a}\``).join(', ')} |`]
        : []),
      ...(result.layout ? [`| layout | \`${result.layout}\` |`] : []),
      ...result.rateLimits.map((line) => `| rate limit | ${line} |`),
      `| moved | ${this.moved()} in ${seconds.toFixed(1)} s${rate} |`,
      '',
      pushing
        ? '| destination | tags | uploaded | mounted | already present | sent |'
        : '| layout | tags | downloaded | already present | received |',
      pushing ? '| --- | --- | ---: | ---: | ---: | ---: |' : '| --- | --- | ---: | ---: | ---: |',
      ...this.destinations.map((d) => {
        const dt = this.#tally([d])
        const tags = this.#tagsOf(d, result).map((tag) => `\`${tag}\``)
        return [
          '',
          `\`${this.#label(d, result)}\``,
          tags.join(', ') || '(none)',
          dt.uploaded,
          ...(pushing ? [dt.mounted] : []),
          dt.present,
          formatBytes(dt.sent),
          ''
        ]
          .join(' | ')
          .trim()
      }),
      ''
    ]
    for (const d of this.destinations) {
      if (!d.rows.length) continue
      const dt = this.#tally([d])
      lines.push(
        `<details><summary>${this.#label(d, result)}: ${d.items} items, ${this.#counts(dt)}</summary>`,
        '',
        '| digest | kind | size | result |',
        '| --- | --- | ---: | --- |',
        ...d.rows.map(
          (r) =>
            `| \`${shortDigest(r.digest)}\` | ${r.kind}${r.referrer ? ' (referrer)' : ''} | ${formatBytes(r.size)} | ${this.outcomeText(r.outcome)} |`
        ),
        ...(dt.present > d.rows.filter((r) => r.outcome === 'exists').length
          ? ['', 'Items under a manifest the registry already had were not asked about one by one.']
          : []),
        '',
        '</details>',
        ''
      )
    }
    return lines.join('\n')
  }

  /** What was pushed (its first tag, else by digest), or what was pulled (the reference asked for). */
  #name(result: TransferResult): string {
    if (this.pushing) return result.tags[0] ?? result.reference
    return this.source || result.reference
  }

  /** A destination as the reader named it: the repository, or the layout path pulled into. */
  #label(d: DestinationReport, result: TransferResult & { layout?: string }): string {
    return this.pushing ? d.target : (result.layout ?? d.target)
  }

  /** A destination's tags: those written to it (a push), or the one the layout records (a pull). */
  #tagsOf(d: DestinationReport, result: TransferResult): string[] {
    if (this.pushing || d.tags.length) return d.tags
    return result.destinations[0]?.tags ?? []
  }
}

/** The `metadata` output: everything, per reference. */
export function metadata(result: TransferResult & { layout?: string }): string {
  return JSON.stringify({
    digest: result.digest,
    mediaType: result.mediaType,
    size: result.size,
    platforms: result.platforms,
    references: result.destinations,
    tags: result.tags,
    bytesTotal: result.bytesTotal,
    bytesSent: result.bytesSent,
    referrers: result.referrers,
    ...(result.layout ? { layout: result.layout } : {})
  })
}
