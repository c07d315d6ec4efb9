// The project's layout generator (scripts/gen-layout.mjs), run as a command so the tests stay typed.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

export interface GenerateOptions {
  out: string
  format: 'tar' | 'dir' | 'tgz'
  platforms?: string[]
  layers?: number[]
  sharedBase?: boolean
  attestations?: boolean
  tags?: string[]
  seed?: number
}

/** Writes a BuildKit-style layout; returns its path and root digest. */
export async function generateLayout(
  o: GenerateOptions
): Promise<{ path: string; digest: string }> {
  const args = ['scripts/gen-layout.mjs', '--out', o.out, '--format', o.format]
  if (o.platforms) args.push('--platforms', o.platforms.join(','))
  if (o.layers) args.push('--layers', o.layers.join(','))
  if (o.sharedBase) args.push('--shared-base')
  if (o.attestations) args.push('--attestations')
  if (o.tags) args.push('--tags', o.tags.join(','))
  if (o.seed !== undefined) args.push('--seed', String(o.seed))
  const { stdout } = await execFileP(process.execPath, args, { maxBuffer: 16 << 20 })
  return { path: o.out, digest: (JSON.parse(stdout) as { digest: string }).digest }
}
