import type { CopyEvent, TransferOutcome } from './copy/copy.js'
import { formatBytes } from './format.js'
import { shortDigest } from './oci/types.js'
import type { TransferResult } from './remote.js'

/** What happened to each blob and manifest, per destination, for logs and the job summary. */
export class TransferReport {
  readonly started = Date.now()
  readonly rows: {
    target: string
    digest: string
    kind: string
    size: number
    outcome: TransferOutcome
  }[] = []
  #target = ''

  constructor(readonly pushing: boolean) {}

  /** Folds an engine event in; returns the log line for it, if any. */
  note(e: CopyEvent): string | undefined {
    switch (e.type) {
      case 'graph':
        this.#target = e.target
        return `${e.nodes} items, ${formatBytes(e.bytes)} in all`
      case 'blob':
      case 'manifest':
        this.rows.push({
          target: this.#target,
          digest: e.desc.digest,
          kind: e.type,
          size: e.desc.size,
          outcome: e.outcome
        })
        return `${e.type === 'manifest' ? 'manifest' : 'blob    '} ${shortDigest(e.desc.digest)}  ${formatBytes(e.desc.size).padStart(10)}  ${this.outcomeText(e.outcome)}`
      case 'progress':
        return `blob     ${shortDigest(e.desc.digest)}  ${formatBytes(e.bytes)} of ${formatBytes(e.desc.size)} (${Math.floor((100 * e.bytes) / e.desc.size)}%)`
      case 'retry':
        return `retry ${e.attempt} for ${shortDigest(e.desc.digest)}: ${e.error}`
      case 'tag':
        return `tagged ${e.tag}`
    }
  }

  outcomeText(o: TransferOutcome): string {
    if (o === 'exists') return 'already present'
    if (o === 'mounted') return 'mounted'
    return this.pushing ? 'uploaded' : 'downloaded'
  }

  /** The closing log line. */
  closing(result: TransferResult & { layout?: string }): string {
    const seconds = (Date.now() - this.started) / 1000
    const moved = `${formatBytes(result.bytesSent)} ${this.pushing ? 'sent' : 'received'} of ${formatBytes(result.bytesTotal)} in ${seconds.toFixed(1)} s`
    const name = result.tags[0] ?? result.reference
    return this.pushing
      ? `Pushed ${name} (${result.digest}): ${moved}`
      : `Pulled ${name} (${result.digest}) into ${result.layout}: ${moved}`
  }

  /** The job summary, as Markdown. */
  summary(result: TransferResult & { layout?: string }): string {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001)
    const moved = this.rows.filter((r) => r.outcome === 'uploaded').reduce((n, r) => n + r.size, 0)
    const lines = [
      `### ${this.pushing ? 'Pushed' : 'Pulled'} \`${result.tags[0] ?? result.reference}\``,
      '',
      `| | |`,
      `| --- | --- |`,
      `| reference | \`${result.reference}\` |`,
      `| digest | \`${result.digest}\` |`,
      `| media type | \`${result.mediaType}\` |`,
      ...(result.platforms.length ? [`| platforms | ${result.platforms.join(', ')} |`] : []),
      ...(result.tags.length
        ? [`| tags | ${result.tags.map((t) => `\`${t}\``).join('<br>')} |`]
        : []),
      ...(result.layout ? [`| layout | \`${result.layout}\` |`] : []),
      ...result.rateLimits.map((line) => `| rate limit | ${line} |`),
      `| moved | ${formatBytes(moved)} of ${formatBytes(result.bytesTotal)} in ${seconds.toFixed(1)} s (${formatBytes(moved / seconds)}/s) |`,
      '',
      '| destination | digest | kind | size | result |',
      '| --- | --- | --- | ---: | --- |',
      ...this.rows.map(
        (r) =>
          `| ${r.target} | \`${shortDigest(r.digest)}\` | ${r.kind} | ${formatBytes(r.size)} | ${this.outcomeText(r.outcome)} |`
      ),
      ''
    ]
    return lines.join('\n')
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
