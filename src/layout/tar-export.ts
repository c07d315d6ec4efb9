import { readdir } from 'node:fs/promises'
import * as path from 'node:path'
import { create } from 'tar'

/**
 * Packs a finished layout directory into a tar (gzip-compressed when asked), entries sorted by
 * name with fixed metadata as BuildKit writes them, so the same layout gives the same bytes.
 */
export async function packLayout(dir: string, file: string, gzip: boolean): Promise<void> {
  const names: string[] = []
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true })
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const name = rel ? `${rel}/${e.name}` : e.name
      if (e.name.endsWith('.partial') || e.name.endsWith('.lock')) continue
      if (e.isDirectory()) {
        names.push(`${name}/`)
        await walk(name)
      } else if (e.isFile()) names.push(name)
    }
  }
  await walk('')
  await create(
    {
      cwd: dir,
      file,
      gzip: gzip ? { level: 6 } : undefined,
      portable: true,
      mtime: new Date(0),
      noDirRecurse: true
    },
    names
  )
}
