// Renders the inputs and outputs tables of README.md from action.yml, between the markers
// <!-- inputs:start --> … <!-- inputs:end --> and <!-- outputs:start --> … <!-- outputs:end -->.
// `node scripts/docs-tables.mjs` rewrites README.md; `--check` fails when it is out of date.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const cell = (s) =>
  String(s ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\|/g, '\\|')

export function renderTables(actionYml) {
  const action = parse(actionYml)
  const inputs = Object.entries(action.inputs ?? {}).map(([name, i]) => {
    const def = i.default === undefined || i.default === '' ? '' : `\`${cell(i.default)}\``
    return `| \`${name}\` | ${i.required ? 'yes' : 'no'} | ${def} | ${cell(i.description)} |`
  })
  const outputs = Object.entries(action.outputs ?? {}).map(
    ([name, o]) => `| \`${name}\` | ${cell(o.description)} |`
  )
  return {
    inputs: [
      '| input | required | default | description |',
      '| --- | --- | --- | --- |',
      ...inputs
    ].join('\n'),
    outputs: ['| output | description |', '| --- | --- |', ...outputs].join('\n')
  }
}

export function updateReadme(readme, tables) {
  let out = readme
  for (const [key, table] of Object.entries(tables)) {
    const re = new RegExp(`(<!-- ${key}:start -->)[\\s\\S]*?(<!-- ${key}:end -->)`)
    if (!re.test(out))
      throw new Error(`README.md lacks the <!-- ${key}:start --> / <!-- ${key}:end --> markers`)
    out = out.replace(re, (_m, start, end) => `${start}\n${table}\n${end}`)
  }
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readmePath = path.join(root, 'README.md')
  const readme = readFileSync(readmePath, 'utf8')
  const next = updateReadme(
    readme,
    renderTables(readFileSync(path.join(root, 'action.yml'), 'utf8'))
  )
  if (process.argv.includes('--check')) {
    if (next !== readme) {
      console.error(
        'README.md inputs/outputs tables differ from action.yml: run `node scripts/docs-tables.mjs`'
      )
      process.exit(1)
    }
  } else writeFileSync(readmePath, next)
}
