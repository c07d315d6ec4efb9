import type { CopyEvent } from '../copy/copy.js'
import type { SecretSink } from '../registry/auth.js'
import type { Credentials } from '../registry/credentials.js'
import type { PlainHttp } from '../registry/client.js'

/** What push and pull share: where the registry is and how to talk to it. */
export interface RegistryOptions {
  /** `host[:port]`; may be empty when `reference` is fully qualified. */
  registry?: string
  /** `REPOSITORY[:TAG][@DIGEST]`, or `host/REPOSITORY[:TAG]`. */
  reference: string
  /** Explicit credentials; when absent they are looked up (see findCredentials). */
  credentials?: Credentials
  /** Inputs for the credential lookup. */
  username?: string
  password?: string
  /** What the adapter calls the two, for hints (default `the username and password inputs`). */
  credentialInputs?: string
  githubToken?: string
  githubActor?: string
  /** Environment for the lookup (docker config, podman auth file); default process.env. */
  env?: NodeJS.ProcessEnv
  plainHttp?: PlainHttp
  concurrency?: number
  /** Tries after the first for a failed request or transfer (default 5). */
  retries?: number
  /** Blobs above this size go up in resumable chunks of it (0: never). */
  chunkSize?: number
  /** Carry referrers (signatures, SBOMs, attestations) along with the image. */
  referrers?: boolean
  /** With referrers on a pull: only referrers of this artifact type. */
  artifactType?: string
  /** PEM bundle trusted in addition to the default CAs (contents, or a path in caFile). */
  ca?: string
  caFile?: string
  insecure?: boolean
  onEvent?: (event: CopyEvent) => void
  onSecret?: SecretSink
  onTrace?: (line: string) => void
  /** Informational lines (where credentials came from, retries, notices). */
  onNotice?: (line: string) => void
  /** Lines about inputs that surprise: set but without effect, or read otherwise than written. */
  onWarning?: (line: string) => void
}
