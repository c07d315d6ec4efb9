// skopeo as an independent reference client: it pushes what our code pulls and pulls what our
// code pushes, so a test never checks the project against itself.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

const SKOPEO_TIMEOUT_MS = 90_000

interface RawResult {
  stdout: Buffer
  stderr: string
}

/**
 * Runs `skopeo ARGS` (ARGS starts with the subcommand). `--insecure-policy` is always added so no
 * /etc/containers/policy.json is needed. With `creds` ('user:pass'), the matching flag is added
 * right after the subcommand: `--src-creds` and `--dest-creds` for copy/sync (skopeo only sends them
 * to a registry that asks, so non-registry ends don't mind), `--creds` for everything else.
 * Throws with skopeo's stderr on a non-zero exit.
 */
export async function skopeo(
  args: string[],
  opts: { creds?: string } = {}
): Promise<{ stdout: string; stderr: string }> {
  const { stdout, stderr } = await run(args, opts.creds)
  return { stdout: stdout.toString('utf8'), stderr }
}

/**
 * Digest of the manifest (or index) that the registry serves for `ref` ('HOST/repo:tag'),
 * hashed over the exact bytes it returned.
 */
export async function remoteDigest(ref: string, creds?: string): Promise<string> {
  // --tls-verify=false makes skopeo try https first and fall back to plain http for the
  // loopback registries; without it skopeo refuses http ("server gave HTTP response to HTTPS client").
  const { stdout } = await run(['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], creds)
  return `sha256:${createHash('sha256').update(stdout).digest('hex')}`
}

export interface CopyOptions {
  /**
   * Add `--preserve-digests`: copy manifests and blobs byte for byte. By default skopeo gzips
   * uncompressed layers (e.g. buildah's) both when pushing to a registry and when writing an `oci:`
   * dir, which rewrites the manifest and so changes its digest.
   */
  preserveDigests?: boolean
}

/**
 * Pulls `ref` with all platforms into the OCI layout directory `dir` (`oci:DIR`, no tag, so the
 * index.json entry gets no ref.name annotation).
 */
export async function copyToOciDir(
  ref: string,
  dir: string,
  creds?: string,
  opts: CopyOptions = {}
): Promise<void> {
  const extra = opts.preserveDigests === true ? ['--preserve-digests'] : []
  await run(
    ['copy', '--all', ...extra, '--src-tls-verify=false', `docker://${ref}`, `oci:${dir}`],
    creds
  )
}

/** Pushes `src` (any skopeo source, e.g. 'oci-archive:/path.tar:v1' or 'oci:/dir:tag') to `ref`. */
export async function pushWithSkopeo(
  src: string,
  ref: string,
  creds?: string,
  opts: CopyOptions = {}
): Promise<void> {
  const extra = opts.preserveDigests === true ? ['--preserve-digests'] : []
  await run(['copy', '--all', ...extra, '--dest-tls-verify=false', src, `docker://${ref}`], creds)
}

const made = new Set<string>()

/** A fresh temp dir under os.tmpdir(), removed when its test file ends (removeTempDirs). */
export async function tmpDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix))
  made.add(dir)
  return dir
}

/** Removes every dir tmpDir made in this test file (jest's per-file set-up calls it last). */
export async function removeTempDirs(): Promise<void> {
  const dirs = [...made]
  made.clear()
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true, maxRetries: 3 })))
}

function run(args: string[], creds: string | undefined): Promise<RawResult> {
  const [sub, ...rest] = args
  if (sub === undefined) return Promise.reject(new Error('skopeo: no subcommand given'))
  const credFlags =
    creds === undefined
      ? []
      : sub === 'copy' || sub === 'sync'
        ? ['--src-creds', creds, '--dest-creds', creds]
        : ['--creds', creds]
  const argv = ['--insecure-policy', sub, ...credFlags, ...rest]
  return new Promise((resolve, reject) => {
    // encoding 'buffer': manifests must be hashed as the exact bytes skopeo wrote, never re-encoded.
    execFile(
      'skopeo',
      argv,
      {
        encoding: 'buffer',
        maxBuffer: 64 * 1024 * 1024,
        timeout: SKOPEO_TIMEOUT_MS,
        killSignal: 'SIGKILL'
      },
      (err, stdout, stderr) => {
        const errText = stderr.toString('utf8')
        if (err) {
          // err.message repeats the full command line; rebuild it with creds masked instead
          const shown = argv.map((a, i) => (argv[i - 1]?.endsWith('creds') ? '***' : a)).join(' ')
          const how =
            err.signal != null ? `killed by ${err.signal}` : `exit ${String(err.code ?? '?')}`
          reject(new Error(`skopeo ${shown} failed (${how}):\n${errText.trim()}`))
          return
        }
        resolve({ stdout, stderr: errText })
      }
    )
  })
}
