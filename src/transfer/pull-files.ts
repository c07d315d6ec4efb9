// `oras pull`: an artifact's files, from a registry or a local layout, into a directory.
import * as path from 'node:path'
import { writeArtifactFiles } from '../artifact/files-out.js'
import { ArtifactAnnotation, artifactFiles } from '../artifact/titles.js'
import { readContent, type Source } from '../content/source.js'
import { InputError } from '../errors/errors.js'
import { LayoutSource } from '../layout/layout-source.js'
import { verifyBuffer } from '../oci/digest.js'
import { parseManifest } from '../oci/manifest.js'
import { MAX_MANIFEST_BYTES } from '../oci/media-types.js'
import { formatReference, parseLayoutSpec, parseReference } from '../oci/reference.js'
import { formatPlatform, type Descriptor } from '../oci/types.js'
import { RegistryRepository } from '../registry/repository.js'
import type { RegistryClient } from '../registry/client.js'
import { openClient } from './clients.js'
import type { RegistryOptions } from './options.js'
import { pickPlatform } from '../copy/platforms.js'

export interface PullFilesOptions extends RegistryOptions {
  /** Instead of a registry `reference`: a local layout `PATH[:TAG|@DIGEST]`. */
  ociLayout?: string
  /** Where the files go (default: the working directory). */
  output?: string
  /** `os/arch[/variant]`, to pick one manifest of an index. */
  platform?: string
}

export interface PulledFile {
  /** The path written (absolute). */
  path: string
  /** The title, as the artifact names it. */
  title: string
  descriptor: Descriptor
  /** Whether it was a directory, unpacked. */
  unpacked: boolean
}

export interface PullFilesResult {
  /** The manifest whose files were written. */
  digest: string
  mediaType: string
  size: number
  artifactType?: string
  /** What was pulled, as named: `host/repo:tag` or the layout spec. */
  pulled: string
  /** `registry` or `oci-layout`. */
  from: 'registry' | 'oci-layout'
  /** The manifest by digest: `host/repo@sha256:…` or `PATH@sha256:…`. */
  reference: string
  files: PulledFile[]
}

/** Pulls the files of an artifact (the titled layers of its manifest) into `output`. */
export async function pullFiles(opts: PullFilesOptions): Promise<PullFilesResult> {
  const outDir = path.resolve(opts.output ?? '.')
  let client: RegistryClient | undefined
  let layout: LayoutSource | undefined
  try {
    let source: Source
    let target: string
    let name: { pulled: string; byDigest: (digest: string) => string }
    if (opts.ociLayout !== undefined) {
      const spec = parseLayoutSpec(opts.ociLayout)
      source = layout = await LayoutSource.open(spec.path)
      target = spec.digest ?? spec.tag ?? ''
      name = { pulled: opts.ociLayout, byDigest: (d) => `${spec.path}@${d}` }
    } else {
      const ref = parseReference(opts.reference, opts.registry)
      client = await openClient(opts, ref.registry)
      source = new RegistryRepository(client, ref.repository, { push: false })
      target = ref.digest ?? ref.tag ?? 'latest'
      const base = { registry: ref.registry, repository: ref.repository }
      name = {
        pulled: formatReference(
          ref.digest ? { ...base, digest: ref.digest } : { ...base, tag: target }
        ),
        byDigest: (digest) => formatReference({ ...base, digest })
      }
    }
    let root = await source.resolve(target)
    if (opts.platform) root = await pickPlatform(source, root, opts.platform)
    const what = `manifest ${root.digest} of ${source.name}`
    const bytes = await readContent(source, root, MAX_MANIFEST_BYTES, what)
    verifyBuffer(bytes, root, what, source.mismatchHint)
    const parsed = parseManifest(bytes, root.mediaType, what)
    if (parsed.kind === 'index') {
      const platforms = parsed.index.manifests
        .filter((d) => d.platform && d.platform.os !== 'unknown')
        .map((d) => formatPlatform(d.platform))
      throw new InputError(
        `${name.pulled} is an index of ${parsed.index.manifests.length} manifests, not one artifact`,
        {
          hint: platforms.length
            ? `pick one with --platform (${platforms.join(', ')}) or pull a manifest by digest`
            : 'pull one of its manifests by digest'
        }
      )
    }
    const files = artifactFiles(parsed.manifest)
    const written = await writeArtifactFiles(source, files, outDir)
    return {
      digest: root.digest,
      mediaType: root.mediaType,
      size: root.size,
      artifactType: parsed.manifest.artifactType ?? parsed.manifest.config.mediaType,
      pulled: name.pulled,
      from: opts.ociLayout !== undefined ? 'oci-layout' : 'registry',
      reference: name.byDigest(root.digest),
      files: written.map((w) => ({
        path: w.path,
        title: w.file.desc.annotations?.[ArtifactAnnotation.Title] ?? w.file.name,
        descriptor: w.file.desc,
        unpacked: w.file.unpack !== undefined
      }))
    }
  } finally {
    client?.close()
    await layout?.close()
  }
}
