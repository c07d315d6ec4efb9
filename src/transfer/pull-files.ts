// `oras pull`: an artifact's files, from a registry or a local layout, into a directory.
import * as path from 'node:path'
import { writeArtifactFiles } from '../artifact/files-out.js'
import { artifactFiles } from '../artifact/titles.js'
import { readManifest, type Source } from '../content/source.js'
import { InputError } from '../errors/errors.js'
import { LayoutSource } from '../layout/layout-source.js'
import type { ParsedManifest } from '../oci/manifest.js'
import { Annotation, isManifestType } from '../oci/media-types.js'
import { formatReference, parseLayoutSpec, parseReference } from '../oci/reference.js'
import { formatPlatform, type Descriptor, type ImageIndex } from '../oci/types.js'
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
    const { parsed } = await readManifest(source, root)
    // An index is walked as oras walks it: the files of every image under it.
    const images = parsed.kind === 'index' ? await imagesUnder(source, parsed.index) : [parsed]
    const layers = images.flatMap((m) => m.manifest.layers)
    if (parsed.kind === 'index') checkNoClash(name.pulled, parsed.index.manifests, layers)
    const files = artifactFiles({ ...images[0]?.manifest, layers })
    const written = await writeArtifactFiles(source, files, outDir)
    return {
      digest: root.digest,
      mediaType: root.mediaType,
      size: root.size,
      artifactType:
        parsed.kind === 'index'
          ? parsed.index.artifactType
          : (parsed.manifest.artifactType ?? parsed.manifest.config.mediaType),
      pulled: name.pulled,
      from: opts.ociLayout !== undefined ? 'oci-layout' : 'registry',
      reference: name.byDigest(root.digest),
      files: written.map((w) => ({
        path: w.path,
        title: w.file.desc.annotations?.[Annotation.Title] ?? w.file.name,
        descriptor: w.file.desc,
        unpacked: w.file.unpack !== undefined
      }))
    }
  } finally {
    client?.close()
    await layout?.close()
  }
}

type Image = Extract<ParsedManifest, { kind: 'manifest' }>

/** The image manifests under an index, nested indexes too (a few levels, as real ones nest). */
async function imagesUnder(source: Source, index: ImageIndex, depth = 0): Promise<Image[]> {
  if (depth > 4) throw new InputError(`${source.name}: indexes nested more than 4 deep`)
  const out: Image[] = []
  for (const child of index.manifests) {
    if (!isManifestType(child.mediaType)) continue
    const { parsed } = await readManifest(source, child)
    if (parsed.kind === 'manifest') out.push(parsed)
    else out.push(...(await imagesUnder(source, parsed.index, depth + 1)))
  }
  return out
}

/** Two images of an index naming the same file (one per platform, say) cannot both be written. */
function checkNoClash(pulled: string, children: Descriptor[], layers: Descriptor[]): void {
  const titles = layers.map((l) => l.annotations?.[Annotation.Title]).filter(Boolean)
  if (new Set(titles).size === titles.length) return
  const platforms = children
    .filter((d) => d.platform && d.platform.os !== 'unknown')
    .map((d) => formatPlatform(d.platform))
  throw new InputError(`${pulled} is an index whose images name the same files`, {
    hint: platforms.length
      ? `pick one with --platform (${platforms.join(', ')}) or pull a manifest by digest`
      : 'pull one of its manifests by digest'
  })
}
