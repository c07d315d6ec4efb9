// The action's `files` input, for the adapters: an artifact's files pushed (or attached to a
// subject as a referrer), or pulled into a directory from a registry or a local layout.
import { Annotation } from '../oci/media-types.js'
import { formatReference, parseReference } from '../oci/reference.js'
import type { RegistryOptions } from './options.js'
import { pullFiles } from './pull-files.js'
import { pushFiles } from './push-files.js'

export interface FilesOptions extends RegistryOptions {
  direction: 'push' | 'pull'
  /** Push: `path[:mediaType]` each; pull: the one directory the files go to. */
  files: string[]
  /** Push: a tag or digest of `reference`'s repository, or a full reference, to attach to. */
  subject?: string
  /** Pull: a local layout `PATH[:TAG|@DIGEST]` to read instead of the registry. */
  layout?: string
  platform?: string
  tempDir?: string
}

export interface FilesResult {
  digest: string
  /** `host/repository@digest`, or `PATH@digest` for a layout read. */
  reference: string
  mediaType: string
  size: number
  /** The full references tagged (push). */
  tags: string[]
  /** What was done, a line each, for the log. */
  lines: string[]
  metadata: Record<string, unknown>
}

/** The subject as a full reference: a bare tag or digest names one of `reference`'s repository. */
export function subjectReference(reference: string, registry: string, subject: string): string {
  if (subject.includes('/')) return subject
  const { tag: _tag, digest: _digest, ...repo } = parseReference(reference, registry)
  return formatReference(
    subject.startsWith('sha256:') ? { ...repo, digest: subject } : { ...repo, tag: subject }
  )
}

export async function transferFiles(opts: FilesOptions): Promise<FilesResult> {
  if (opts.direction === 'push') {
    const attach = opts.subject !== undefined
    const r = await pushFiles({
      ...opts,
      reference: attach
        ? subjectReference(opts.reference, opts.registry ?? '', opts.subject ?? '')
        : opts.reference,
      attach
    })
    const titles = r.layers.map((l) => `uploaded ${l.annotations?.[Annotation.Title] ?? l.digest}`)
    const to = r.subject ? `as a referrer of ${r.subject.digest} to` : 'to'
    return {
      digest: r.digest,
      reference: r.reference,
      mediaType: r.mediaType,
      size: r.size,
      tags: r.tag ? [r.tag] : [],
      lines: [...titles, `Pushed ${r.artifactType} ${to} ${r.reference}`],
      metadata: { ...r }
    }
  }
  const r = await pullFiles({
    ...opts,
    output: opts.files[0],
    ociLayout: opts.layout || undefined
  })
  return {
    digest: r.digest,
    reference: r.reference,
    mediaType: r.mediaType,
    size: r.size,
    tags: [],
    lines: [
      ...(r.files.length
        ? r.files.map((f) => `downloaded ${f.title}`)
        : ['no files: an empty artifact']),
      `Pulled ${r.pulled} into ${opts.files[0]}`
    ],
    metadata: { ...r }
  }
}
