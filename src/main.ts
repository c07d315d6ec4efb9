import * as core from '@actions/core'
import { describeError } from './content/errors.js'
import type { CopyEvent } from './copy/copy.js'
import { engineOptions, readSettings, type InputName } from './inputs.js'
import { shortDigest } from './oci/types.js'
import { pull } from './pull.js'
import { push, type TransferResult } from './push.js'
import { formatBytes } from './format.js'

/** The action's adapter: the only module that talks to the runner. */
export async function run(): Promise<void> {
  try {
    // Mask before anything can be logged.
    for (const name of ['password', 'github-token']) {
      const secret = core.getInput(name)
      if (secret) core.setSecret(secret)
    }
    const settings = readSettings((name: InputName) => core.getInput(name))
    const started = Date.now()
    const pushing = settings.direction === 'push'
    const target = `${settings.registry ? `${settings.registry}/` : ''}${settings.reference}`
    core.startGroup(
      pushing
        ? `Pushing ${settings.layout} to ${target}`
        : `Pulling ${target} into ${settings.layout}`
    )
    let result: TransferResult & { layout?: string }
    try {
      const common = {
        ...engineOptions(settings),
        onEvent: (e: CopyEvent) => logEvent(e, pushing),
        onSecret: (secret: string) => core.setSecret(secret),
        onTrace: core.isDebug() ? (line: string) => core.debug(line) : undefined,
        onNotice: (line: string) =>
          line.includes('TLS verification is off') ? core.warning(line) : core.info(line)
      }
      result = pushing
        ? await push({ ...common, tempDir: process.env.RUNNER_TEMP || undefined })
        : await pull({ ...common, platform: settings.platform })
    } finally {
      core.endGroup()
    }
    core.setOutput('digest', result.digest)
    core.setOutput('reference', result.reference)
    core.setOutput('media-type', result.mediaType)
    core.setOutput('size', String(result.size))
    if (result.layout) core.setOutput('layout', result.layout)
    const seconds = ((Date.now() - started) / 1000).toFixed(1)
    const moved = `${formatBytes(result.bytesSent)} ${pushing ? 'sent' : 'received'} of ${formatBytes(result.bytesTotal)} in ${seconds} s`
    core.info(
      pushing
        ? `Pushed ${result.tags[0] ?? result.reference} (${result.digest}): ${moved}`
        : `Pulled ${result.tags[0] ?? result.reference} (${result.digest}) into ${result.layout}: ${moved}`
    )
  } catch (err) {
    core.setFailed(describeError(err))
  }
}

function logEvent(e: CopyEvent, pushing: boolean): void {
  switch (e.type) {
    case 'graph':
      core.info(`${e.nodes} items, ${formatBytes(e.bytes)} in all`)
      break
    case 'blob':
    case 'manifest': {
      const what =
        e.outcome === 'exists'
          ? 'already present'
          : e.outcome === 'uploaded'
            ? pushing
              ? 'uploaded'
              : 'downloaded'
            : e.outcome
      core.info(
        `${e.type === 'manifest' ? 'manifest' : 'blob    '} ${shortDigest(e.desc.digest)}  ${formatBytes(e.desc.size).padStart(10)}  ${what}`
      )
      break
    }
    case 'retry':
      core.info(`retry ${e.attempt} for ${shortDigest(e.desc.digest)}: ${e.error}`)
      break
    case 'tag':
      core.info(`tagged ${e.tag}`)
      break
  }
}
