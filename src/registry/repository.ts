import type { Readable } from 'node:stream'
import { NotFoundError, OciError } from '../content/errors.js'
import { readAll, type Content, type PushOutcome, type Target } from '../content/target.js'
import { digestOf, isDigest, verifyBuffer } from '../oci/digest.js'
import { parseManifest } from '../oci/manifest.js'
import { MANIFEST_TYPES, MAX_MANIFEST_BYTES, isManifestType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/types.js'
import { drain, header } from '../transport/http.js'
import type { RegistryClient } from './client.js'
import { uploadBlob } from './upload.js'

const ACCEPT = MANIFEST_TYPES.join(', ')

/** A repository on a registry, as a copy target: blobs and manifests by digest, tags by name. */
export class RegistryRepository implements Target {
  readonly name: string
  readonly #client: RegistryClient
  readonly #repo: string
  readonly #scope: string
  /** Manifests pushed this run, so tagging needs no second download. */
  readonly #manifests = new Map<string, Buffer>()

  /** A repository of the same registry whose blobs can be mounted instead of uploaded. */
  readonly #mountFrom?: string

  constructor(
    client: RegistryClient,
    repository: string,
    access: { push: boolean; mountFrom?: string }
  ) {
    this.#mountFrom = access.mountFrom
    this.#client = client
    this.#repo = repository
    this.name = `${client.registry}/${repository}`
    this.#scope = `repository:${repository}:${access.push ? 'pull,push' : 'pull'}`
  }

  #path(kind: 'blobs' | 'manifests', ref: string): string {
    return `/v2/${this.#repo}/${kind}/${ref}`
  }

  async resolve(reference: string): Promise<Descriptor> {
    const res = await this.#client.request({
      method: 'HEAD',
      url: this.#path('manifests', reference),
      headers: { Accept: ACCEPT },
      scope: this.#scope,
      followRedirects: true
    })
    await drain(res)
    const digest = header(res, 'docker-content-digest')
    const mediaType = header(res, 'content-type')?.split(';')[0].trim()
    const size = Number(header(res, 'content-length'))
    if (
      res.status === 200 &&
      digest &&
      isDigest(digest) &&
      mediaType &&
      isManifestType(mediaType) &&
      Number.isSafeInteger(size)
    ) {
      if (isDigest(reference) && digest !== reference)
        throw new OciError(`${this.name}: asked for ${reference}, the registry answered ${digest}`)
      return { mediaType, digest, size }
    }
    if (res.status === 404) throw await this.#notFound(reference)
    // Some registries omit the digest on HEAD or refuse HEAD: read the manifest instead.
    return (await this.fetchManifest(reference)).desc
  }

  /** Downloads a manifest by tag or digest, checked against the digest when one is known. */
  async fetchManifest(reference: string): Promise<{ desc: Descriptor; bytes: Buffer }> {
    const res = await this.#client.request({
      method: 'GET',
      url: this.#path('manifests', reference),
      headers: { Accept: ACCEPT },
      scope: this.#scope,
      followRedirects: true
    })
    if (res.status === 404) {
      await drain(res)
      throw await this.#notFound(reference)
    }
    if (res.status !== 200)
      return this.#client.fail(res, 'GET', `reading manifest ${reference} of ${this.#repo}`)
    const bytes = await readAll(res.body, MAX_MANIFEST_BYTES, `manifest ${reference}`)
    const digest = isDigest(reference)
      ? reference
      : (header(res, 'docker-content-digest') ?? digestOf(bytes))
    const headerType = header(res, 'content-type')?.split(';')[0].trim()
    const parsed = parseManifest(
      bytes,
      isManifestType(headerType) ? headerType : undefined,
      `manifest ${reference} of ${this.name}`
    )
    const desc = { mediaType: parsed.mediaType, digest, size: bytes.length }
    verifyBuffer(bytes, desc, `manifest ${reference} of ${this.name}`)
    return { desc, bytes }
  }

  async #notFound(reference: string): Promise<NotFoundError> {
    return new NotFoundError(`${this.name}:${reference} not found`, {
      hint: 'check the reference: the repository or tag does not exist, or the credentials cannot see it'
    })
  }

  async fetch(desc: Descriptor): Promise<Readable> {
    const manifest = isManifestType(desc.mediaType)
    const res = await this.#client.request({
      method: 'GET',
      url: this.#path(manifest ? 'manifests' : 'blobs', desc.digest),
      headers: manifest ? { Accept: ACCEPT } : {},
      scope: this.#scope,
      followRedirects: true
    })
    if (res.status === 200) return res.body
    if (res.status === 404) {
      await drain(res)
      throw new NotFoundError(`${this.name}: ${desc.digest} not found`)
    }
    return this.#client.fail(res, 'GET', `reading ${desc.digest}`)
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const manifest = isManifestType(desc.mediaType)
    const res = await this.#client.request({
      method: 'HEAD',
      url: this.#path(manifest ? 'manifests' : 'blobs', desc.digest),
      headers: manifest ? { Accept: ACCEPT } : {},
      scope: this.#scope,
      followRedirects: true
    })
    await drain(res)
    if (res.status === 200) return true
    if (res.status === 404) return false
    return this.#client.fail(res, 'HEAD', `checking ${desc.digest}`)
  }

  async push(desc: Descriptor, content: Content): Promise<PushOutcome> {
    if (isManifestType(desc.mediaType)) {
      const bytes = Buffer.isBuffer(content)
        ? content
        : await readAll(await content(), MAX_MANIFEST_BYTES, desc.digest)
      await this.#putManifest(desc, bytes, desc.digest)
      this.#manifests.set(desc.digest, bytes)
      return 'uploaded'
    }
    return uploadBlob(
      {
        client: this.#client,
        repository: this.#repo,
        scope: this.#scope,
        chunkSize: this.#client.chunkSize,
        retry: this.#client.retryPolicy,
        onRetry: (line: string) => this.#client.noteRetry(line),
        mountFrom: this.#mountFrom
      },
      desc,
      content
    )
  }

  async tag(desc: Descriptor, tag: string): Promise<void> {
    const bytes = this.#manifests.get(desc.digest) ?? (await this.fetchManifest(desc.digest)).bytes
    await this.#putManifest(desc, bytes, tag)
  }

  async #putManifest(desc: Descriptor, bytes: Buffer, reference: string): Promise<void> {
    const res = await this.#client.request({
      method: 'PUT',
      url: this.#path('manifests', reference),
      headers: { 'Content-Type': desc.mediaType },
      body: bytes,
      scope: this.#scope,
      retry: true
    })
    if (res.status !== 201 && res.status !== 200) {
      return this.#client.fail(
        res,
        'PUT',
        `pushing manifest ${reference === desc.digest ? desc.digest : `${desc.digest} as tag ${reference}`}`
      )
    }
    await drain(res)
    const echoed = header(res, 'docker-content-digest')
    if (echoed && echoed !== desc.digest) {
      throw new OciError(`${this.name}: the registry stored manifest ${desc.digest} as ${echoed}`, {
        hint: 'the registry rewrote the manifest; it does not keep content byte for byte'
      })
    }
  }
}
