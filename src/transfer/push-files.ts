// `oras push` and `oras attach`: local files as an artifact, pushed by the one copy engine.
import { FilesSource } from '../artifact/files-in.js'
import { parseFileSpecs } from '../artifact/file-specs.js'
import { copyGraph } from '../copy/copy.js'
import { InputError } from '../errors/errors.js'
import { referrerDescriptor } from '../oci/referrers.js'
import { formatReference, parseReference } from '../oci/reference.js'
import type { Descriptor } from '../oci/types.js'
import { RegistryRepository } from '../registry/repository.js'
import { ClientPool } from './clients.js'
import type { RegistryOptions } from './options.js'

export interface PushFilesOptions extends RegistryOptions {
  /** `PATH[:MEDIATYPE]` each, relative paths (they become the layers' titles). */
  files: string[]
  artifactType?: string
  annotations?: Record<string, string>
  /**
   * Attach: `reference` names the subject (by tag or digest); the artifact is pushed untagged into
   * its repository as a referrer of it.
   */
  attach?: boolean
  /** What the file paths are relative to; default the working directory. */
  cwd?: string
  /** Where directories are packed before they are sent. */
  tempDir?: string
}

export interface PushFilesResult {
  digest: string
  mediaType: string
  size: number
  artifactType: string
  /** `host/repository@digest`. */
  reference: string
  /** The full reference tagged, when the reference has a tag (push only). */
  tag?: string
  layers: Descriptor[]
  /** Attach: the manifest the artifact refers to. */
  subject?: Descriptor
  annotations?: Record<string, string>
}

/** Pushes files as one artifact (`attach`: as a referrer of the image `reference` names). */
export async function pushFiles(opts: PushFilesOptions): Promise<PushFilesResult> {
  const ref = parseReference(opts.reference, opts.registry)
  if (!opts.attach && ref.digest)
    throw new InputError(`reference ${opts.reference} names a digest, which a push cannot choose`, {
      hint: 'name a tag (repo:v1), or only the repository; the digest is printed after the push'
    })
  if (!opts.files.length)
    throw new InputError('no files given', {
      hint: opts.attach
        ? 'attach SUBJECT FILE...: name at least one file'
        : 'push REF FILE...: name at least one file'
    })
  const specs = parseFileSpecs(opts.files)
  const pool = new ClientPool(opts)
  let source: FilesSource | undefined
  try {
    const repo = new RegistryRepository(await pool.get(ref.registry), ref.repository, {
      push: true
    })
    // The subject is resolved first: attaching to an image that is not there fails before files are packed.
    const subject = opts.attach ? await repo.resolve(ref.digest ?? ref.tag ?? 'latest') : undefined
    source = await FilesSource.prepare(specs, {
      artifactType: opts.artifactType,
      annotations: opts.annotations,
      subject,
      cwd: opts.cwd,
      tempDir: opts.tempDir
    })
    const { root, graph } = await copyGraph(source, source.root, repo, {
      concurrency: opts.concurrency,
      onEvent: opts.onEvent,
      skipExistingRoot: true
    })
    const tag = opts.attach ? undefined : ref.tag
    if (tag) {
      await repo.tag(root, tag, graph.root.bytes)
      opts.onEvent?.({ type: 'tag', desc: root, tag, target: repo.name })
    }
    if (subject) {
      // Findable from the subject: through the referrers API, else the fallback tag written here.
      const referrer = referrerDescriptor(root, source.manifestBytes())
      if (referrer) await repo.addReferrers(subject, [referrer.desc])
    }
    return {
      digest: root.digest,
      mediaType: root.mediaType,
      size: root.size,
      artifactType: source.artifactType,
      reference: formatReference({ ...ref, tag: undefined, digest: root.digest }),
      tag: tag ? formatReference({ ...ref, tag, digest: undefined }) : undefined,
      layers: source.layers,
      subject,
      annotations: opts.annotations
    }
  } finally {
    await source?.close()
    await pool.close()
  }
}
