// The runner's entry point (action.yml: runs.main).
import { run } from './main.js'

await run()
