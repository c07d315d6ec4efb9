import { bufferSource, type ChunkSource } from '../content/blob-cursor.js'
import { SLAB_SIZE } from '../slabs/pool.js'
import { NotFoundError, OciError, REGISTRY_MISMATCH_HINT, RegistryError } from '../errors/errors.js'
import { contentBytes, type Content, type PushOutcome, type Sink } from '../content/sink.js'
import { readAll, type Source } from '../content/source.js'
import { digestOf, isDigest, verifyBuffer } from '../oci/digest.js'
import { parseManifest } from '../oci/manifest.js'
import {
  MANIFEST_TYPES,
  MAX_MANIFEST_BYTES,
  MediaType,
  isManifestType
} from '../oci/media-types.js'
import { fallbackTag, mergeReferrersIndex } from '../oci/referrers.js'
import type { Descriptor } from '../oci/types.js'
import { drain, header, type HttpResponse } from '../transport/http.js'
import type { RegistryClient } from './client.js'
import { download } from './download.js'
import { uploadBlob } from './upload.js'

const ACCEPT = MANIFEST_TYPES.join(', ')
/**
 * Blobs up to this size are asked about while opening their upload (see `asksOnPush`). On a link
 * with 50 ms round trips and 100 Mbit/s, a round trip is worth about 600 KiB of sending.
 */
const ASK_ON_PUSH_MAX = 512 * 1024

/** A repository on a registry, as a copy's source or sink: blobs and manifests by digest, tags by name. */
export class RegistryRepository implements Source, Sink {
  readonly name: string
  readonly mismatchHint = REGISTRY_MISMATCH_HINT
  readonly #client: RegistryClient
  readonly #repo: string
  readonly #scope: string
  /** Manifests pushed or resolved this run, so tagging or copying needs no second download. */
  readonly #manifests = new Map<string, Buffer>()

  /** Repositories of the same registry whose blobs can be mounted instead of uploaded, in order. */
  readonly #mountFrom: string[]
  readonly #push: boolean

  constructor(
    client: RegistryClient,
    repository: string,
    access: { push: boolean; mountFrom?: string[] }
  ) {
    this.#mountFrom = access.mountFrom ?? []
    this.#push = access.push
    this.#client = client
    this.#repo = repository
    this.name = `${client.registry}/${repository}`
    this.#scope = `repository:${repository}:${access.push ? 'pull,push' : 'pull'}`
  }

  #path(kind: 'blobs' | 'manifests', ref: string): string {
    return `/v2/${this.#repo}/${kind}/${ref}`
  }

  /**
   * The manifest a tag or digest names, by GET: the copy needs its bytes anyway, so this is one
   * request where HEAD + GET would be two, and no HEAD can mislead it (a Content-Length of 0 from
   * a proxy, none at all, or one that the GET contradicts, as Harbor's can).
   */
  async resolve(reference: string): Promise<Descriptor> {
    const { desc, bytes } = await this.fetchManifest(reference)
    this.#manifests.set(desc.digest, bytes)
    return desc
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
      throw this.#notFound(reference)
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
    verifyBuffer(bytes, desc, `manifest ${reference} of ${this.name}`, REGISTRY_MISMATCH_HINT)
    return { desc, bytes }
  }

  #notFound(reference: string): NotFoundError {
    const sep = isDigest(reference) ? '@' : ':'
    return new NotFoundError(`${this.name}${sep}${reference} not found`, {
      hint: 'check the reference: the repository or tag does not exist, or the credentials cannot see it'
    })
  }

  /** GET or HEAD of a blob or manifest by digest; a GET from `offset` on asks for a Range. */
  #byDigest(
    method: 'GET' | 'HEAD',
    desc: Descriptor,
    get: { chunks: boolean; offset: number } | undefined = undefined
  ): Promise<HttpResponse> {
    const manifest = isManifestType(desc.mediaType)
    const headers: Record<string, string> = manifest ? { Accept: ACCEPT } : {}
    if (get?.offset) headers.Range = `bytes=${get.offset}-`
    return this.#client.request({
      method,
      url: this.#path(manifest ? 'manifests' : 'blobs', desc.digest),
      headers,
      scope: this.#scope,
      followRedirects: true,
      chunks: get?.chunks
    })
  }

  async #get(desc: Descriptor, chunks: boolean, offset: number): Promise<HttpResponse> {
    const res = await this.#byDigest('GET', desc, { chunks, offset })
    if (res.status === 200 || (res.status === 206 && offset > 0)) return res
    if (res.status === 404) {
      await drain(res)
      throw new NotFoundError(`${this.name}: ${desc.digest} not found`)
    }
    return this.#client.fail(res, 'GET', `reading ${desc.digest}`)
  }

  /**
   * Content in slabs: a manifest read this run from memory, large blobs straight off the socket,
   * the rest from the response stream; a body cut part way goes on from where it was cut.
   */
  async open(desc: Descriptor): Promise<ChunkSource> {
    const known = this.#manifests.get(desc.digest)
    if (known && isManifestType(desc.mediaType)) return bufferSource(known)
    const chunks = desc.size >= SLAB_SIZE
    const get = (offset: number): Promise<HttpResponse> => this.#get(desc, chunks, offset)
    return download(get, `${desc.digest} from ${this.name}`, this.#client.tries())
  }

  async exists(desc: Descriptor): Promise<boolean> {
    // Known this run (restoring many tags that share layers): the answer is not asked again.
    const held = isManifestType(desc.mediaType) ? undefined : this.#client.held(this.#repo)
    if (held?.has(desc.digest)) return true
    const res = await this.#byDigest('HEAD', desc)
    await drain(res)
    if (res.status === 200) {
      // A length that contradicts the descriptor is not the content we mean (Harbor's HEAD and
      // GET can disagree): not known to be there, so it is sent and the registry decides.
      const length = Number(header(res, 'content-length'))
      const there = !(length > 0 && length !== desc.size)
      if (there) held?.add(desc.digest)
      return there
    }
    if (res.status === 404) return false
    // Artifactory answers 403 for what it does not have; a real refusal still fails on the PUT.
    if (res.status === 403 && this.#push) return false
    return this.#client.fail(res, 'HEAD', `checking ${desc.digest}`)
  }

  /**
   * A small blob is asked about by the request that opens its upload (a mount from this very
   * repository: 201, it is here; 202, the session to send it in), one round trip instead of a
   * HEAD and then a POST. Large blobs keep the HEAD: a registry that ignores the mount would have
   * them sent again, where for a small blob that costs less than the round trip saved.
   */
  asksOnPush(desc: Descriptor): boolean {
    return (
      this.#push &&
      this.#mountFrom.length === 0 &&
      !this.#client.held(this.#repo).has(desc.digest) &&
      !this.#client.uploadLimits.noAskFirst &&
      desc.size <= ASK_ON_PUSH_MAX &&
      !isManifestType(desc.mediaType)
    )
  }

  async push(desc: Descriptor, content: Content): Promise<PushOutcome> {
    if (isManifestType(desc.mediaType)) {
      const bytes = await contentBytes(content, MAX_MANIFEST_BYTES, `manifest ${desc.digest}`)
      await this.#putManifest(desc, bytes, desc.digest)
      this.#manifests.set(desc.digest, bytes)
      return 'uploaded'
    }
    // A blob pushed again after the registry said it held it (the manifest was refused for
    // lacking it) is among those held, so it is sent, not asked about.
    const askFirst = this.asksOnPush(desc)
    let outcome: PushOutcome
    try {
      outcome = await uploadBlob(
        {
          client: this.#client,
          repository: this.#repo,
          scope: this.#scope,
          chunkSize: this.#client.chunkSize,
          limits: this.#client.uploadLimits,
          mountFrom: this.#mountFrom,
          askFirst
        },
        desc,
        content
      )
    } catch (err) {
      // Sent without a HEAD first, to a registry that ignored the question and will not take a
      // blob it holds (Nexus: "cannot be updated"): asked now, it is there, and that is enough.
      const refused = err instanceof RegistryError && err.status >= 400 && err.status < 500
      if (!askFirst || !refused || !(await this.exists(desc))) throw err
      outcome = 'exists'
    }
    this.#client.held(this.#repo).add(desc.digest)
    return outcome
  }

  async tag(desc: Descriptor, tag: string, known?: Buffer): Promise<void> {
    const bytes =
      known ?? this.#manifests.get(desc.digest) ?? (await this.fetchManifest(desc.digest)).bytes
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
    // A registry that read the manifest's subject says so: it keeps referrers itself.
    if (header(res, 'oci-subject')) this.#referrersApi = true
    const echoed = header(res, 'docker-content-digest')
    if (echoed && echoed !== desc.digest) {
      throw new OciError(`${this.name}: the registry stored manifest ${desc.digest} as ${echoed}`, {
        hint: 'the registry rewrote the manifest; it does not keep content byte for byte'
      })
    }
  }

  /** Whether the registry serves the referrers API (else a fallback tag is kept); unknown at first. */
  #referrersApi?: boolean

  async referrers(subject: Descriptor, artifactType?: string): Promise<Descriptor[]> {
    const url = new URL(`/v2/${this.#repo}/referrers/${subject.digest}`, this.#client.origin)
    if (artifactType) url.searchParams.set('artifactType', artifactType)
    const res = await this.#client.request({
      method: 'GET',
      url,
      headers: { Accept: MediaType.OciIndex },
      scope: this.#scope
    })
    let list: Descriptor[]
    if (res.status === 200) {
      this.#referrersApi = true
      const bytes = await readAll(res.body, MAX_MANIFEST_BYTES, `referrers of ${subject.digest}`)
      const parsed = parseManifest(
        bytes,
        MediaType.OciIndex,
        `referrers of ${subject.digest} in ${this.name}`
      )
      list = parsed.kind === 'index' ? parsed.index.manifests : []
    } else if (res.status === 404 || res.status === 400 || res.status === 405) {
      // No referrers API: the fallback tag holds them, if anyone wrote it.
      await drain(res)
      this.#referrersApi = false
      list = (await this.#fallbackIndex(subject))?.manifests ?? []
    } else {
      return this.#client.fail(res, 'GET', `listing the referrers of ${subject.digest}`)
    }
    return artifactType ? list.filter((d) => d.artifactType === artifactType) : list
  }

  async #fallbackIndex(
    subject: Descriptor
  ): Promise<{ bytes: Buffer; manifests: Descriptor[] } | undefined> {
    try {
      const { bytes } = await this.fetchManifest(fallbackTag(subject.digest))
      const parsed = parseManifest(bytes, MediaType.OciIndex, `referrers tag of ${subject.digest}`)
      return { bytes, manifests: parsed.kind === 'index' ? parsed.index.manifests : [] }
    } catch (err) {
      if (err instanceof NotFoundError) return undefined
      throw err
    }
  }

  /**
   * Where the registry has no referrers API, records referrers in the subject's fallback tag
   * (`sha256-<hex>`): merged with what it holds, never dropping others' entries.
   */
  async addReferrers(subject: Descriptor, referrers: Descriptor[]): Promise<void> {
    if (this.#referrersApi === undefined) await this.referrers(subject)
    if (this.#referrersApi) return
    const existing = await this.#fallbackIndex(subject)
    const merged = mergeReferrersIndex(existing?.bytes, referrers)
    if (!merged.changed) return
    const desc = {
      mediaType: MediaType.OciIndex,
      digest: digestOf(merged.bytes),
      size: merged.bytes.length
    }
    await this.#putManifest(desc, merged.bytes, fallbackTag(subject.digest))
  }
}
