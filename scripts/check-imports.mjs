// @ts-check
// Checks the shape of src/: no import cycle between files, none between folders, no file over
// MAX_LINES lines, no code evaluated from a string. Run by `npm run lint`; prints each finding
// and exits 1 when there is one. `--graph` prints the folder graph instead.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'src')
const MAX_LINES = 400

/** Every .ts and .js file under src/, as paths relative to it. */
function sources(dir = ROOT) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name)
    if (e.isDirectory()) return sources(full)
    // Tests beside their modules are not part of the shape.
    return /\.[jt]s$/.test(e.name) && !e.name.endsWith('.test.ts')
      ? [path.relative(ROOT, full)]
      : []
  })
}

// Static imports and re-exports, including `import type` (a type cycle still ties two files).
const IMPORT = /^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.[^'"]+)['"]/gm
const DYNAMIC = /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g

/** The files a file imports, relative to src/. */
function importsOf(file) {
  const text = readFileSync(path.join(ROOT, file), 'utf8')
  const out = new Set()
  for (const re of [IMPORT, DYNAMIC])
    for (const m of text.matchAll(re)) {
      const named = path.normalize(path.join(path.dirname(file), m[1]))
      // A `.js` import names the `.ts` source, unless the source is JavaScript itself.
      const ts = named.replace(/\.js$/, '.ts')
      out.add(existsSync(path.join(ROOT, ts)) ? ts : named)
    }
  return [...out]
}

/** The cycles of a graph (one per strongly connected component of more than one node, or a self-loop). */
function cycles(graph) {
  let index = 0
  const idx = new Map()
  const low = new Map()
  const stack = []
  const on = new Set()
  const found = []
  const visit = (v) => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v), low.get(w)))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)))
    }
    if (low.get(v) === idx.get(v)) {
      const scc = []
      let w
      do {
        w = stack.pop()
        on.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort())
    }
  }
  for (const v of graph.keys()) if (!idx.has(v)) visit(v)
  return found
}

const files = sources()
const fileGraph = new Map(files.map((f) => [f, importsOf(f)]))
const folderOf = (f) => path.dirname(f)
const folderGraph = new Map()
for (const [f, deps] of fileGraph) {
  const from = folderOf(f)
  const set = folderGraph.get(from) ?? new Set()
  for (const d of deps) if (folderOf(d) !== from) set.add(folderOf(d))
  folderGraph.set(from, set)
}
const folderLists = new Map([...folderGraph].map(([k, v]) => [k, [...v].sort()]))

if (process.argv.includes('--graph')) {
  for (const [k, v] of [...folderLists].sort())
    console.log(`${k} -> ${v.join(', ') || '(nothing)'}`)
  process.exit(0)
}

const problems = []
for (const c of cycles(fileGraph)) problems.push(`import cycle between files: ${c.join(', ')}`)
for (const c of cycles(folderLists)) {
  // Name the imports that tie the folders together, so the fix is plain.
  const ties = []
  for (const [f, deps] of fileGraph)
    for (const d of deps)
      if (folderOf(f) !== folderOf(d) && c.includes(folderOf(f)) && c.includes(folderOf(d)))
        ties.push(`${f} -> ${d}`)
  problems.push(`import cycle between folders ${c.join(', ')}: ${ties.sort().join('; ')}`)
}
for (const f of files) {
  const text = readFileSync(path.join(ROOT, f), 'utf8')
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0)
  if (lines > MAX_LINES) problems.push(`src/${f} has ${lines} lines (at most ${MAX_LINES})`)
  if (/\beval\s*:\s*true\b|\bnew Function\s*\(|\beval\s*\(/.test(text))
    problems.push(`src/${f} evaluates code from a string`)
}
for (const p of problems) console.error(p)
process.exit(problems.length ? 1 : 0)
