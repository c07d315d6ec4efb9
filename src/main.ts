import * as core from '@actions/core'
import * as tc from '@actions/tool-cache'
import { describeError } from './content/errors.js'
import type { CopyEvent } from './copy/copy.js'
import { engineOptions, readSettings, type InputName } from './inputs.js'
import { parseLayoutSpec } from './oci/reference.js'
import { pull } from './pull.js'
import { push } from './push.js'
import type { TransferResult } from './remote.js'
import { metadata, TransferReport } from './report.js'

/** The action's adapter: the only module that talks to the runner. */
export async function run(): Promise<void> {
  let pushing = true
  try {
    // Mask before anything can be logged.
    for (const name of ['password', 'github-token']) {
      const secret = core.getInput(name)
      if (secret) core.setSecret(secret)
    }
    const settings = readSettings((name: InputName) => core.getInput(name))
    pushing = settings.direction === 'push'
    const report = new TransferReport(pushing)
    const target = `${settings.registry ? `${settings.registry}/` : ''}${settings.reference}`
    let group = false
    const openGroup = (title: string): void => {
      if (group) core.endGroup()
      core.startGroup(title)
      group = true
    }
    const onEvent = (e: CopyEvent): void => {
      if (e.type === 'graph')
        openGroup(`${pushing ? 'Pushing to' : 'Pulling from'} ${pushing ? e.target : target}`)
      if (e.type === 'tag' && report.rows.length && group) {
        core.endGroup()
        group = false
      }
      const line = report.note(e)
      if (line) core.info(line)
    }
    let result: TransferResult & { layout?: string }
    try {
      openGroup(pushing ? `Reading ${settings.layout}` : `Resolving ${target}`)
      const common = {
        ...engineOptions(settings),
        onEvent,
        onSecret: (secret: string) => core.setSecret(secret),
        onTrace: core.isDebug() ? (line: string) => core.debug(line) : undefined,
        onNotice: (line: string) =>
          line.includes('TLS verification is off') ? core.warning(line) : core.info(line)
      }
      result = pushing
        ? await push({
            ...common,
            layout: await localLayout(settings.layout),
            tags: settings.tags,
            mountFrom: settings.mountFrom,
            tempDir: process.env.RUNNER_TEMP || undefined
          })
        : await pull({ ...common, platform: settings.platform })
    } finally {
      if (group) core.endGroup()
    }
    core.setOutput('digest', result.digest)
    core.setOutput('reference', result.reference)
    core.setOutput('tags', result.tags.join('\n'))
    core.setOutput('media-type', result.mediaType)
    core.setOutput('size', String(result.size))
    core.setOutput('platforms', JSON.stringify(result.platforms))
    core.setOutput('metadata', metadata(result))
    if (result.layout) core.setOutput('layout', result.layout)
    for (const line of result.rateLimits) core.info(line)
    core.info(report.closing(result))
    if (
      core.getInput('summary').trim().toLowerCase() !== 'false' &&
      process.env.GITHUB_STEP_SUMMARY
    ) {
      // The work is done; a summary that cannot be written is worth a warning, not a failure.
      await core.summary
        .addRaw(report.summary(result))
        .write()
        .catch((err: unknown) =>
          core.warning(`Could not write the job summary: ${describeError(err)}`)
        )
    }
  } catch (err) {
    core.error(describeError(err), { title: pushing ? 'Push failed' : 'Pull failed' })
    process.exitCode = core.ExitCode.Failure
  }
}

/** A layout given as an http(s) URL (a release asset, say) is downloaded first, selector kept. */
async function localLayout(layout: string): Promise<string> {
  const spec = parseLayoutSpec(layout)
  if (!/^https?:\/\//i.test(spec.path)) return layout
  core.info(`Downloading ${spec.path}`)
  const file = await tc.downloadTool(spec.path)
  return `${file}${spec.tag ? `:${spec.tag}` : spec.digest ? `@${spec.digest}` : ''}`
}
