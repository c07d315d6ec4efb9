// Independent checks of a layout on disk: every blob the graph names is there with the right
// digest and size.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile, readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { tmpDir } from './skopeo.js'

const execFileP = promisify(execFile)

interface Node {
  mediaType?: string
  digest: string
  size: number
  annotations?: Record<string, string>
}

const MANIFESTS = /manifest|image\.index/

/** Walks index.json and everything under it; returns the index entries and the number of blobs checked. */
export async function checkLayout(dir: string): Promise<{ entries: Node[]; blobs: number }> {
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as {
    manifests: Node[]
  }
  const layout = JSON.parse(await readFile(path.join(dir, 'oci-layout'), 'utf8')) as {
    imageLayoutVersion: string
  }
  if (layout.imageLayoutVersion !== '1.0.0') throw new Error(`bad oci-layout in ${dir}`)
  const seen = new Set<string>()
  const visit = async (d: Node): Promise<void> => {
    if (seen.has(d.digest)) return
    seen.add(d.digest)
    const file = path.join(dir, 'blobs/sha256', d.digest.slice(7))
    const bytes = await readFile(file)
    if (bytes.length !== d.size)
      throw new Error(`${d.digest}: ${bytes.length} bytes, descriptor says ${d.size}`)
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
    if (actual !== d.digest) throw new Error(`${d.digest}: content hashes to ${actual}`)
    if (d.mediaType && MANIFESTS.test(d.mediaType) && !d.mediaType.includes('layer')) {
      const json = JSON.parse(bytes.toString('utf8')) as {
        manifests?: Node[]
        config?: Node
        layers?: Node[]
      }
      for (const child of [
        ...(json.manifests ?? []),
        ...(json.config ? [json.config] : []),
        ...(json.layers ?? [])
      ])
        await visit(child)
    }
  }
  for (const e of index.manifests) await visit(e)
  return { entries: index.manifests, blobs: seen.size }
}

/** Extracts a layout tar (gzip or not) to a temp dir for checking. */
export async function extractTar(file: string): Promise<string> {
  const dir = await tmpDir('extract-')
  await execFileP('tar', ['-xf', file, '-C', dir])
  return dir
}

/** Names of files under a directory, recursively (to find leftovers). */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const name = path.join(rel, e.name)
      if (e.isDirectory()) await walk(name)
      else out.push(name)
    }
  }
  if ((await stat(dir)).isDirectory()) await walk('')
  return out.sort()
}

export async function ociImageToolValidate(dir: string): Promise<string> {
  const { stdout, stderr } = await execFileP('oci-image-tool', ['validate', '--type', 'image', dir])
  return stdout + stderr
}
