// `oci-layout push REF FILE[:MEDIATYPE]...` and `oci-layout attach SUBJECT FILE...`: files as an
// OCI 1.1 artifact, in oras's shape and with oras's output.
import type { CopyEvent } from '../copy/copy.js'
import { Annotation } from '../oci/media-types.js'
import { shortDigest } from '../oci/types.js'
import { pushFiles, type PushFilesResult } from '../transfer/push-files.js'
import {
  annotationFlags,
  checkFormat,
  printResult,
  readArgs,
  registryFlags,
  REGISTRY_OPTIONS,
  UsageError,
  type CommandResult,
  type Options
} from './common.js'

const OPTIONS: Options = {
  'artifact-type': { type: 'string' },
  annotation: { type: 'string', short: 'a', multiple: true },
  ...REGISTRY_OPTIONS
}

function run(attach: boolean): (argv: string[]) => Promise<number> {
  const what = attach ? 'attach SUBJECT FILE[:MEDIATYPE]...' : 'push REF FILE[:MEDIATYPE]...'
  return async (argv) => {
    const { values, positionals } = readArgs(argv, OPTIONS)
    checkFormat(values.format)
    const [reference, ...files] = positionals
    if (!reference) throw new UsageError(`${what}: no reference given`, false)
    if (!files.length)
      throw new UsageError(
        attach
          ? `${what}: no files given after ${reference}`
          : `unexpected argument ${reference}: ${what} needs a file after the reference (a layout: push --layout PATH --reference REF)`
      )
    const artifactType = values['artifact-type'] as string | undefined
    if (attach && !artifactType) throw new UsageError(`${what}: --artifact-type is required`)
    const events: CopyEvent[] = []
    const result = await pushFiles({
      reference,
      files,
      attach,
      artifactType,
      annotations: annotationFlags(values),
      ...registryFlags(values),
      onEvent: (e) => void events.push(e),
      onNotice: (line) => void process.stderr.write(`${line}\n`)
    })
    printResult(describe(result, events), values.format)
    return 0
  }
}

/** oras's lines: each layer's fate, where it went, its type; the digest last (printResult). */
function describe(r: PushFilesResult, events: CopyEvent[]): CommandResult {
  const lines: string[] = []
  for (const layer of r.layers) {
    const e = events.find((x) => x.type === 'blob' && x.desc.digest === layer.digest)
    // No event: the registry had the whole artifact already.
    const verb = e?.type === 'blob' && e.outcome !== 'exists' ? 'Uploaded' : 'Exists  '
    const title = layer.annotations?.[Annotation.Title] ?? ''
    lines.push(`${verb} ${shortDigest(layer.digest)} ${title}`)
  }
  const where = r.subject
    ? `Attached to [registry] ${r.reference.replace(/@.*$/, `@${r.subject.digest}`)}`
    : `Pushed [registry] ${r.tag ?? r.reference}`
  lines.push(where, `ArtifactType: ${r.artifactType}`)
  const json: Record<string, unknown> = {
    reference: r.reference,
    referenceAsTags: r.tag ? [r.tag] : [],
    mediaType: r.mediaType,
    digest: r.digest,
    size: r.size,
    artifactType: r.artifactType,
    ...(r.annotations && Object.keys(r.annotations).length ? { annotations: r.annotations } : {}),
    ...(r.subject ? { subject: r.subject } : {})
  }
  return { lines, digest: r.digest, json }
}

export const pushFilesCommand = run(false)
export const attachCommand = run(true)
