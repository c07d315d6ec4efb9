// @ts-check
// A slab thread (see thread.ts): hashes slabs (for hasher.ts), reads files into them while
// hashing (for blob-cursor.ts) and writes them to files (for file-writer.ts), by id, in the order
// asked. Plain JavaScript, type-checked (checkJs) and linted like the rest: a worker is a file
// Node runs as it is, from the sources under test as from dist/, where the build puts it beside
// the bundles.
import { createHash } from 'node:crypto'
import { readSync, writeSync } from 'node:fs'
import { parentPort, workerData } from 'node:worker_threads'

/** @typedef {import('./messages.js').ToSlabThread} ToSlabThread */
/** @typedef {import('./messages.js').FromSlabThread} FromSlabThread */

const port = parentPort
if (!port) throw new Error('slab-worker.js runs as a worker thread only')
const { piece } = /** @type {import('./messages.js').SlabThreadData} */ (workerData)

/** @type {Map<number, Buffer>} */
const slabs = new Map()
/** @type {Map<number, import('node:crypto').Hash>} */
const jobs = new Map()

/**
 * Writes a view at a position in pieces, going on after a short write.
 * @param {Buffer} view
 * @param {number} fd
 * @param {number} position
 */
function write(view, fd, position) {
  for (let off = 0; off < view.length;) {
    const n = writeSync(fd, view, off, Math.min(piece, view.length - off), position + off)
    if (n === 0) throw Object.assign(new Error('the file took no bytes'), { code: 'EIO' })
    off += n
  }
}

/**
 * Reads into a view from a position until it is full or the file ends; the count read.
 * @param {Buffer} view
 * @param {number} fd
 * @param {number} position
 */
function read(view, fd, position) {
  let got = 0
  while (got < view.length) {
    const n = readSync(fd, view, got, view.length - got, position + got)
    if (n === 0) break
    got += n
  }
  return got
}

/**
 * Does one message's work; its answer, if it has one.
 * @param {ToSlabThread} m
 * @returns {FromSlabThread | undefined}
 */
function handle(m) {
  switch (m.op) {
    case 'slab':
      slabs.set(m.id, Buffer.from(m.sab))
      return
    case 'start':
      jobs.set(m.job, createHash(m.alg))
      return
    case 'drop':
      jobs.delete(m.job)
      return
    case 'digest': {
      const hash = jobs.get(m.job)
      // A digest of a job never started is a bug on the other side: the thread fails with it.
      if (!hash) throw new Error(`no job ${m.job}`)
      jobs.delete(m.job)
      return { op: 'digest', job: m.job, hex: hash.digest('hex') }
    }
  }
  /** @type {{ message: string, code?: string } | undefined} */
  let error
  /** @type {number | undefined} */
  let n
  try {
    const slab = slabs.get(m.slab)
    if (!slab) throw new Error(`no slab ${m.slab}`)
    const view = slab.subarray(m.off, m.off + m.len)
    if (m.op === 'update') jobs.get(m.job)?.update(view)
    else if (m.op === 'write') write(view, m.fd, m.pos)
    else {
      n = read(view, m.fd, m.pos)
      jobs.get(m.job)?.update(view.subarray(0, n))
    }
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err)
    error = { message: e.message, code: e.code }
  }
  return { op: 'done', job: m.job, n, error }
}

// A batch is answered in one message, so a slab's hash and write cost one round trip.
port.on('message', (/** @type {ToSlabThread[]} */ batch) => {
  /** @type {FromSlabThread[]} */
  const answers = []
  for (const m of batch) {
    const a = handle(m)
    if (a) answers.push(a)
  }
  if (answers.length) port.postMessage(answers)
})
