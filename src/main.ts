import * as core from '@actions/core'
import { describeError, InputError } from './content/errors.js'
import type { CopyEvent } from './copy/copy.js'
import { readSettings, type InputName } from './inputs.js'
import { shortDigest } from './oci/types.js'
import { push, type TransferResult } from './push.js'
import { formatBytes } from './format.js'

/** The action's adapter: the only module that talks to the runner. */
export async function run(): Promise<void> {
  try {
    // Mask before anything can be logged.
    const password = core.getInput('password')
    if (password) core.setSecret(password)
    const settings = readSettings((name: InputName) => core.getInput(name))
    if (settings.direction === 'pull') {
      throw new InputError('direction: pull is not available in this version', { hint: 'use direction: push' })
    }
    const started = Date.now()
    core.startGroup(`Pushing ${settings.layout} to ${settings.registry ? `${settings.registry}/` : ''}${settings.reference}`)
    let result: TransferResult
    try {
      result = await push({
        layout: settings.layout,
        registry: settings.registry,
        reference: settings.reference,
        credentials: settings.username ? { username: settings.username, password: settings.password } : undefined,
        plainHttp: settings.plainHttp,
        concurrency: settings.concurrency,
        tempDir: process.env.RUNNER_TEMP || undefined,
        onEvent: logEvent,
        onSecret: (s) => core.setSecret(s),
        onTrace: core.isDebug() ? (line) => core.debug(line) : undefined
      })
    } finally {
      core.endGroup()
    }
    core.setOutput('digest', result.digest)
    core.setOutput('reference', result.reference)
    core.setOutput('media-type', result.mediaType)
    core.setOutput('size', String(result.size))
    const seconds = (Date.now() - started) / 1000
    core.info(
      `Pushed ${result.tags[0] ?? result.reference} (${result.digest}): ${formatBytes(result.bytesSent)} sent of ${formatBytes(result.bytesTotal)} in ${seconds.toFixed(1)} s`
    )
  } catch (err) {
    core.setFailed(describeError(err))
  }
}

function logEvent(e: CopyEvent): void {
  switch (e.type) {
    case 'graph':
      core.info(`${e.nodes} items, ${formatBytes(e.bytes)} in all`)
      break
    case 'blob':
    case 'manifest': {
      const what = e.outcome === 'exists' ? 'already present' : e.outcome
      core.info(`${e.type === 'manifest' ? 'manifest' : 'blob    '} ${shortDigest(e.desc.digest)}  ${formatBytes(e.desc.size).padStart(10)}  ${what}`)
      break
    }
    case 'tag':
      core.info(`tagged ${e.tag}`)
      break
  }
}
