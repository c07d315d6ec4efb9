// `oci-layout cp SRC DST`: oras cp's form. Either side is a registry reference, or a layout with
// --from-oci-layout / --to-oci-layout; the flow is push, pull, or a copy of the two kinds.
import type { RegistryOptions } from '../transfer/options.js'
import { copyImage, copyLayout } from '../transfer/copy.js'
import { pull } from '../transfer/pull.js'
import { push } from '../transfer/push.js'
import type { TransferResult } from '../transfer/result.js'
import { checkFormat, printResult, readArgs, UsageError, type Options } from './common.js'

const OPTIONS: Options = {
  'from-oci-layout': { type: 'boolean' },
  'to-oci-layout': { type: 'boolean' },
  recursive: { type: 'boolean', short: 'r' },
  platform: { type: 'string' },
  'from-username': { type: 'string' },
  'from-password': { type: 'string' },
  'to-username': { type: 'string' },
  'to-password': { type: 'string' },
  'plain-http': { type: 'boolean' }
}

const USAGE =
  'oci-layout cp [--from-oci-layout] SRC [--to-oci-layout] DST [-r] [--platform P] [--format json]'

// The credential flags, as hints name them when a registry refuses or wants credentials.
const FROM = 'the --from-username and --from-password flags'
const TO = { credentialInputs: 'the --to-username and --to-password flags' }

type Values = ReturnType<typeof readArgs>['values']

/** A side's username and password, both or neither; none for a layout. */
function credentials(
  values: Values,
  side: 'from' | 'to',
  layout: boolean
): { username?: string; password?: string } {
  const username = values[`${side}-username`] as string | undefined
  const password = values[`${side}-password`] as string | undefined
  if (username === undefined && password === undefined) return {}
  if (layout)
    throw new UsageError(
      `--${side}-username and --${side}-password are for a registry; ${side === 'from' ? 'SRC' : 'DST'} is a layout`
    )
  if (username === undefined || password === undefined)
    throw new UsageError(`--${side}-username and --${side}-password go together`)
  return { username, password }
}

export async function cp(argv: string[]): Promise<number> {
  const { values, positionals } = readArgs(argv, OPTIONS)
  if (positionals.length !== 2)
    throw new UsageError(`cp takes SRC and DST, not ${positionals.length} argument(s): ${USAGE}`)
  checkFormat(values.format)
  const [src, dst] = positionals
  const fromLayout = values['from-oci-layout'] === true
  const toLayout = values['to-oci-layout'] === true
  const fromCreds = credentials(values, 'from', fromLayout)
  const toCreds = credentials(values, 'to', toLayout)
  const platform = values.platform as string | undefined
  const say = (line: string): void => void process.stderr.write(`${line}\n`)
  const common: Omit<RegistryOptions, 'reference'> = {
    plainHttp: values['plain-http'] === true ? 'true' : 'auto',
    referrers: values.recursive === true,
    onNotice: say,
    onWarning: (line) => say(`warning: ${line}`)
  }
  let result: TransferResult
  let reference: string
  if (fromLayout && toLayout) {
    result = await copyLayout({ ...common, source: src, layout: dst, platform })
    reference = result.reference
  } else if (fromLayout) {
    result = await push({ ...common, ...toCreds, ...TO, layout: src, reference: dst, platform })
    reference = result.reference
  } else if (toLayout) {
    const pulled = await pull({
      ...common,
      ...fromCreds,
      credentialInputs: FROM,
      reference: src,
      layout: dst,
      platform
    })
    result = pulled
    reference = `${pulled.layout}@${pulled.digest}`
  } else {
    result = await copyImage({
      ...common,
      ...toCreds,
      ...TO,
      sourceUsername: fromCreds.username,
      sourcePassword: fromCreds.password,
      sourceCredentialInputs: FROM,
      source: src,
      reference: dst,
      platform
    })
    reference = result.reference
  }
  const side = (layout: boolean, name: string): string =>
    `[${layout ? 'oci-layout' : 'registry'}] ${name}`
  printResult(
    {
      lines: [`Copied ${side(fromLayout, src)} => ${side(toLayout, dst)}`],
      digest: result.digest,
      json: {
        digest: result.digest,
        mediaType: result.mediaType,
        size: result.size,
        reference
      }
    },
    values.format
  )
  return 0
}
