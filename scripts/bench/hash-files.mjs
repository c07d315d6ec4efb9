#!/usr/bin/env node
// @ts-check
// The least hashing a verifying client does, for the `wire + sha256` row: sha256 of each file
// given, read in 1 MiB pieces with readSync on two worker threads (files shared out between
// them), checked against the digest its name carries. Exits 1 on a mismatch. Plain ESM with node
// built-ins only: `node scripts/bench/hash-files.mjs FILE...`.

import { createHash } from 'node:crypto'
import { closeSync, openSync, readSync } from 'node:fs'
import path from 'node:path'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'

const THREADS = 2
const PIECE = 1024 * 1024

/**
 * The hex sha256 of a file.
 * @param {string} file
 * @param {Buffer} buf
 */
function hashFile(file, buf) {
  const hash = createHash('sha256')
  const fd = openSync(file, 'r')
  try {
    for (let pos = 0; ;) {
      const n = readSync(fd, buf, 0, buf.length, pos)
      if (n === 0) break
      hash.update(buf.subarray(0, n))
      pos += n
    }
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}

if (isMainThread) {
  const files = process.argv.slice(2)
  const shares = Array.from({ length: Math.min(THREADS, files.length) }, (_, t) =>
    files.filter((_f, i) => i % THREADS === t)
  )
  const bad = await Promise.all(
    shares.map(
      (share) =>
        /** @type {Promise<string[]>} */ (
          new Promise((resolve, reject) => {
            const w = new Worker(new URL(import.meta.url), { workerData: share })
            w.once('message', resolve)
            w.once('error', reject)
          })
        )
    )
  )
  const mismatched = bad.flat()
  if (mismatched.length) {
    console.error(`sha256 mismatch: ${mismatched.join(', ')}`)
    process.exit(1)
  }
} else {
  const buf = Buffer.allocUnsafe(PIECE)
  const share = /** @type {string[]} */ (workerData)
  parentPort?.postMessage(share.filter((f) => hashFile(f, buf) !== path.basename(f)))
}
