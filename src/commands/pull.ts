// `oci-layout pull REF [-o DIR]` and `pull --oci-layout PATH[:TAG|@DIGEST]`: an artifact's files,
// as `oras pull` writes them (the layout form, `pull --reference … --layout …`, is cli.ts's).
import { pullFiles, type PullFilesResult } from '../transfer/pull-files.js'
import {
  checkFormat,
  printResult,
  readArgs,
  registryFlags,
  REGISTRY_OPTIONS,
  UsageError,
  type CommandResult
} from './common.js'

const USAGE =
  'usage: oci-layout pull [HOST/]REPO[:TAG|@DIGEST] [-o DIR] [--platform OS/ARCH] [--username U --password P] [--plain-http] [--format json]\n' +
  '       oci-layout pull --oci-layout PATH[:TAG|@DIGEST] [-o DIR]'

/** What a pull of files prints: oras's lines, or the same as JSON. */
export function pullFilesResult(r: PullFilesResult): CommandResult {
  const lines = r.files.length
    ? r.files.map((f) => `Downloaded ${f.title}${f.unpacked ? '/' : ''}`)
    : ['Downloaded empty artifact']
  lines.push(`Pulled [${r.from}] ${r.pulled}`)
  return {
    lines,
    digest: r.digest,
    json: {
      reference: r.reference,
      pulled: r.pulled,
      digest: r.digest,
      mediaType: r.mediaType,
      artifactType: r.artifactType,
      files: r.files.map((f) => ({
        path: f.path,
        title: f.title,
        mediaType: f.descriptor.mediaType,
        digest: f.descriptor.digest,
        size: f.descriptor.size,
        unpacked: f.unpacked
      }))
    }
  }
}

export async function pullCommand(argv: string[]): Promise<number> {
  const { values, positionals } = readArgs(argv, {
    output: { type: 'string', short: 'o' },
    'oci-layout': { type: 'boolean' },
    platform: { type: 'string' },
    ...REGISTRY_OPTIONS,
    help: { type: 'boolean', short: 'h' }
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  checkFormat(values.format)
  if (positionals.length !== 1)
    throw new UsageError(
      positionals.length
        ? `pull takes one reference, not ${positionals.length}: ${positionals.join(' ')}`
        : 'pull needs a reference: pull REF [-o DIR], or pull --oci-layout PATH[:TAG] [-o DIR]'
    )
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
  const layout = values['oci-layout'] === true
  if (layout && (values.username ?? values.password ?? values['plain-http']) !== undefined)
    throw new UsageError(
      '--username, --password and --plain-http are for a registry, not --oci-layout'
    )
  const result = await pullFiles({
    ...(layout ? { ociLayout: positionals[0], reference: '' } : { reference: positionals[0] }),
    output: str(values.output),
    platform: str(values.platform),
    ...registryFlags(values),
    onNotice: (line) => void process.stderr.write(`${line}\n`)
  })
  printResult(pullFilesResult(result), values.format)
  return 0
}
