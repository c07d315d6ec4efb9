import { randomBytes } from 'node:crypto'
import { readdir, rm, stat } from 'node:fs/promises'
import * as path from 'node:path'

// Temporary names carry the writer's pid, so a later run can tell a killed run's leftovers
// from the files of a run still writing (two pulls into one directory are allowed).
const PARTIAL = /\.(\d+)-[0-9a-f]{12}\.partial(?:\.d)?$/
// Names from before the pid was recorded: removed once they are clearly abandoned.
const OLD_PARTIAL = /\.[0-9a-f]{12}\.partial(?:\.d)?$/
const OLD_AGE_MS = 10 * 60_000

/** A temporary name beside `final`, renamed into place when complete. */
export function partialName(final: string): string {
  return `${final}.${process.pid}-${randomBytes(6).toString('hex')}.partial`
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes what killed runs left in `dir`: partial files (and partial directories) whose writer
 * is gone; with `prefix`, only those named after it. Returns how many it removed.
 */
export async function removeLeftovers(dir: string, prefix = ''): Promise<number> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return 0
  }
  let removed = 0
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const file = path.join(dir, name)
    const m = PARTIAL.exec(name)
    let abandoned = m !== null && !alive(Number(m[1]))
    if (!m && OLD_PARTIAL.test(name)) {
      const st = await stat(file).catch(() => undefined)
      abandoned = st !== undefined && Date.now() - st.mtimeMs > OLD_AGE_MS
    }
    if (!abandoned) continue
    await rm(file, { recursive: true, force: true }).catch(() => undefined)
    removed++
  }
  return removed
}
