/**
 * Limits a registry reveals by refusing a request: learned once per host, so later blobs are
 * shaped to fit at once and no refused request is ever sent again unchanged.
 */
export interface UploadLimits {
  /** A single PUT of more than this was refused (413): larger blobs go up in chunks. */
  maxBody?: number
  /** A PATCH of more than this was refused (GHCR: 4 MiB, a CDN: 100 MB). */
  maxChunk?: number
  /**
   * Per repository, the first upload session's outcome: undefined once one opened (or failed in a
   * way worth retrying), else the refusal (NAME_UNKNOWN, DENIED) every later blob fails with, unsent.
   */
  firstSession?: Map<string, Promise<unknown>>
  /** Refused a mount from the repository itself: its small blobs are asked about by HEAD again. */
  noAskFirst?: boolean
}

/** Chunk size after a one-request upload was refused: under every CDN limit, above ECR's 5 MiB minimum. */
export const FALLBACK_CHUNK = 16 * 1024 * 1024

/** GHCR's 416 text: "... exceeds the maximum permissible limit of 4.00MiB". */
const LIMIT_TEXT = /maximum permissible limit of ([\d.]+)\s*([KMG]i?B)/i

/** The limit, in bytes, that a refusal's text names (GHCR says it in its 416). */
export function limitIn(text: string): number | undefined {
  const m = LIMIT_TEXT.exec(text)
  if (!m) return undefined
  const unit = { K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2][0].toUpperCase() as 'K' | 'M' | 'G']
  const n = Math.floor(Number(m[1]) * unit)
  return n > 0 ? n : undefined
}
