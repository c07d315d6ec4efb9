// One temporary directory per test run: everything the tests, the registries they start and the
// tools they run write under the system temp directory goes under it (TMPDIR, TMP and TEMP point
// there), and the global teardown removes it, so `npm test` leaves nothing behind. A run that was
// killed is cleaned up by the next one (its pid is in the name).
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

const PREFIX = 'oci-layout-tests-'

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return err.code === 'EPERM'
  }
}

export async function makeTempRoot() {
  const system = os.tmpdir()
  for (const name of await readdir(system).catch(() => [])) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)
    if (m && !alive(Number(m[1])))
      await rm(path.join(system, name), { recursive: true, force: true })
  }
  const root = await mkdtemp(path.join(system, `${PREFIX}${process.pid}-`))
  for (const v of ['TMPDIR', 'TMP', 'TEMP']) process.env[v] = root
  process.env.OCI_TEST_TEMP_ROOT = root
  return root
}

export async function removeTempRoot() {
  const root = process.env.OCI_TEST_TEMP_ROOT
  if (root && path.basename(root).startsWith(PREFIX))
    await rm(root, { recursive: true, force: true, maxRetries: 3 })
}
