import * as path from 'node:path'
import { InputError } from '../errors/errors.js'
import { copyGraph } from '../copy/copy.js'
import { imagePlatforms, pickPlatform } from '../copy/platforms.js'
import { copyReferrers } from '../copy/referrers.js'
import { checkLayoutDestination, LayoutSink } from '../layout/layout-sink.js'
import { Annotation } from '../oci/media-types.js'
import { formatReference, parseLayoutSpec, parseReference } from '../oci/reference.js'
import { openClient } from './clients.js'
import type { RegistryOptions } from './options.js'
import type { TransferResult } from './result.js'
import type { RegistryClient } from '../registry/client.js'
import { RegistryRepository } from '../registry/repository.js'

export interface PullOptions extends RegistryOptions {
  /** Destination: a directory, or a path ending in .tar / .tar.gz / .tgz, with an optional `:TAG`. */
  layout: string
  /** `os/arch[/variant]`: from an index, pull only the matching platform's manifest. */
  platform?: string
}

export interface PullResult extends TransferResult {
  /** The path written. */
  layout: string
  /** What was pulled, as named on the registry (`host/org/app:v1`, or by digest). */
  pulled: string
}

/**
 * Pulls an image, index or artifact into an OCI layout. A directory is merged into; a tar is
 * built beside its destination and renamed into place only when complete.
 */
export async function pull(opts: PullOptions): Promise<PullResult> {
  const spec = parseLayoutSpec(opts.layout)
  if (spec.digest)
    throw new InputError(
      `the layout input of a pull names where to write; "@${spec.digest}" does not fit there`,
      { hint: 'put the digest in the reference: org/app@sha256:…' }
    )
  const ref = parseReference(opts.reference, opts.registry)
  let client: RegistryClient | undefined
  try {
    await checkLayoutDestination(spec.path)
    client = await openClient(opts, ref.registry)
    return await pullWith(client, opts)
  } finally {
    client?.close()
  }
}

/**
 * A pull through a client already open (for the reference's registry): a backup pulls every tag
 * this way, over the same connections. The destination was checked by the caller.
 */
export async function pullWith(client: RegistryClient, opts: PullOptions): Promise<PullResult> {
  const spec = parseLayoutSpec(opts.layout)
  const ref = parseReference(opts.reference, opts.registry)
  const target = ref.digest ?? ref.tag ?? 'latest'
  const tag = spec.tag ?? (ref.digest ? undefined : (ref.tag ?? 'latest'))
  let store: LayoutSink | undefined
  try {
    const repo = new RegistryRepository(client, ref.repository, { push: false })
    let root = await repo.resolve(target)
    if (opts.platform) root = await pickPlatform(repo, root, opts.platform)
    store = await LayoutSink.open(spec.path, root)
    const result = await copyGraph(repo, root, store, {
      concurrency: opts.concurrency,
      onEvent: opts.onEvent
    })
    // Referrers land in index.json as untagged entries, written together with the image's entry.
    const referrers = opts.referrers
      ? await copyReferrers(repo, store, result.graph, {
          concurrency: opts.concurrency,
          onEvent: opts.onEvent,
          artifactType: opts.artifactType
        })
      : []
    const base = { registry: ref.registry, repository: ref.repository }
    // The name is what was pulled; the layout's own tag (`DIR:stable`) is only the ref.name.
    const pulled = formatReference(
      ref.digest ? { ...base, digest: result.root.digest } : { ...base, tag: ref.tag ?? 'latest' }
    )
    const annotations: Record<string, string> = { [Annotation.ContainerdName]: pulled }
    if (tag) annotations[Annotation.RefName] = tag
    for (const r of await store.commit(result.root, annotations))
      opts.onNotice?.(`${spec.path}: tag ${r.tag} moved from ${r.was} to ${result.root.digest}`)
    return {
      digest: result.root.digest,
      mediaType: result.root.mediaType,
      size: result.root.size,
      reference: formatReference({ ...base, digest: result.root.digest }),
      tags: tag ? [tag] : [],
      pulled,
      bytesTotal: result.bytesTotal,
      bytesSent: result.bytesSent,
      platforms: await imagePlatforms(repo, result.graph.root),
      destinations: [{ reference: path.resolve(spec.path), tags: tag ? [tag] : [] }],
      referrers,
      rateLimits: [client.rateLimitLine() ?? []].flat(),
      layout: path.resolve(spec.path)
    }
  } finally {
    await store?.close()
  }
}
