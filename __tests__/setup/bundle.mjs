// Builds the action and the CLI from src/ for the tests that run them as the runner does, so a
// broken src/ fails `npm test` whatever dist/ holds (dist/ is checked by `npm run check-dist`).
// Rebuilt only when the sources or the build's configuration changed; git-ignored under .cache/.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

export const BUNDLE_DIR = path.resolve('.cache', 'test-dist')
const INPUTS = ['rollup.config.js', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json']

async function sourceFiles(dir) {
  const out = []
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...(await sourceFiles(p)))
    else if (!e.name.endsWith('.test.ts')) out.push(p) // tests beside the sources are not built
  }
  return out.sort()
}

async function sourceHash() {
  const hash = createHash('sha256')
  for (const file of [...(await sourceFiles('src')), ...INPUTS.filter((f) => existsSync(f))]) {
    hash.update(`${file}\0`)
    hash.update(await readFile(file))
  }
  return hash.digest('hex')
}

export async function buildBundle() {
  const stamp = path.join(BUNDLE_DIR, '.src-sha256')
  const want = await sourceHash()
  const have = await readFile(stamp, 'utf8').catch(() => '')
  if (have === want && existsSync(path.join(BUNDLE_DIR, 'index.js'))) return
  const rollup = path.resolve('node_modules', 'rollup', 'dist', 'bin', 'rollup')
  await execFileP(process.execPath, [rollup, '--config', 'rollup.config.js', '--silent'], {
    env: { ...process.env, BUNDLE_DIR },
    maxBuffer: 16 << 20
  }).catch((err) => {
    throw new Error(`building src/ for the tests failed:\n${err.stderr || err.message}`)
  })
  await writeFile(stamp, want)
}
