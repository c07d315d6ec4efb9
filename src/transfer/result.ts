import type { Descriptor } from '../oci/types.js'

/** What a push or pull did, for the outputs, the log and the job summary. */
export interface TransferResult {
  digest: string
  mediaType: string
  size: number
  /** `host/repository@digest`. */
  reference: string
  /** Full references of the tags written. */
  tags: string[]
  bytesTotal: number
  bytesSent: number
  /** `os/arch[/variant]` of each image (an index's platforms, attestations left out). */
  platforms: string[]
  /** Every repository written, with its tags. */
  destinations: { reference: string; tags: string[] }[]
  /** Referrers carried along (with `referrers: true`). */
  referrers: Descriptor[]
  /** Rate limits the registries reported (Docker Hub's pulls left), one line each. */
  rateLimits: string[]
}
