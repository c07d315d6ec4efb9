import commonjs from '@rollup/plugin-commonjs'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import typescript from '@rollup/plugin-typescript'

// BUNDLE_DIR: the tests build the sources into .cache/ (see __tests__/setup/bundle.mjs).
const dir = process.env.BUNDLE_DIR || 'dist'

// One self-contained ESM file per entry: the runner executes dist/index.js without npm install.
const entry = (input, file) => ({
  input,
  output: { file, format: 'es', sourcemap: false, inlineDynamicImports: true },
  plugins: [
    typescript({ tsconfig: 'tsconfig.build.json', outDir: dir }),
    nodeResolve({ preferBuiltins: true, exportConditions: ['node'] }),
    commonjs()
  ],
  onwarn(warning, warn) {
    // The bundled @actions packages trip these harmlessly.
    if (warning.code === 'THIS_IS_UNDEFINED' || warning.code === 'CIRCULAR_DEPENDENCY') return
    warn(warning)
  }
})

// The slab thread's script goes beside the bundles, where src/slabs/thread.ts looks for it.
export default [
  entry('src/index.ts', `${dir}/index.js`),
  entry('src/cli.ts', `${dir}/cli.js`),
  entry('src/slabs/slab-worker.js', `${dir}/slab-worker.js`)
]
