// `oci-layout merge LAYOUT... (--to-oci-layout DIR[:TAG] | REF)`: per-platform builds published
// as one multi-platform image index.
import { mergePush, mergeToLayout } from '../transfer/merge.js'
import type { TransferResult } from '../transfer/result.js'
import {
  annotationFlags,
  checkFormat,
  printResult,
  readArgs,
  registryFlags,
  REGISTRY_OPTIONS,
  UsageError,
  type Options
} from './common.js'

const OPTIONS: Options = {
  'to-oci-layout': { type: 'string' },
  annotation: { type: 'string', multiple: true, short: 'a' },
  tag: { type: 'string', multiple: true, short: 't' },
  ...REGISTRY_OPTIONS
}

const USAGE =
  'oci-layout merge LAYOUT... (--to-oci-layout DIR[:TAG] | REF) [--annotation K=V]... [--format json]'

export async function mergeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = readArgs(argv, OPTIONS)
  checkFormat(values.format)
  const toLayout = values['to-oci-layout'] as string | undefined
  const layouts = toLayout === undefined ? positionals.slice(0, -1) : positionals
  const reference = toLayout === undefined ? positionals.at(-1) : undefined
  if (layouts.length === 0 || (toLayout === undefined && reference === undefined))
    throw new UsageError(`merge takes the layouts and where the index goes: ${USAGE}`)
  const annotations = annotationFlags(values)
  const say = (line: string): void => void process.stderr.write(`${line}\n`)
  const common = {
    layouts,
    annotations,
    onNotice: say,
    onWarning: (l: string) => say(`warning: ${l}`)
  }
  let result: TransferResult
  let to: string
  if (toLayout !== undefined) {
    result = await mergeToLayout({ ...common, layout: toLayout })
    to = `[oci-layout] ${toLayout}`
  } else {
    result = await mergePush({
      ...common,
      reference: reference as string,
      tags: (values.tag as string[] | undefined) ?? [],
      ...registryFlags(values),
      credentialInputs: 'the --username and --password flags'
    })
    to = `[registry] ${reference}`
  }
  printResult(
    {
      lines: [`Merged ${result.platforms.length} platforms => ${to}`],
      digest: result.digest,
      json: {
        digest: result.digest,
        mediaType: result.mediaType,
        size: result.size,
        platforms: result.platforms,
        reference: result.reference
      }
    },
    values.format
  )
  return 0
}
