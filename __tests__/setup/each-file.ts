// Per test file: the temp dirs its tests made are removed when it ends, so every file cleans up
// after itself (the run's temp root, see temp-root.mjs, catches what escapes).
import { removeTempDirs } from '../helpers/skopeo.js'

afterAll(async () => {
  await removeTempDirs()
})
