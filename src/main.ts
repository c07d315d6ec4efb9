import * as core from '@actions/core'
import * as tc from '@actions/tool-cache'
import { describeError, LayoutError } from './errors/errors.js'
import type { CopyEvent } from './copy/copy.js'
import { engineOptions, readSettings, type InputName } from './inputs.js'
import { parseLayoutSpec } from './oci/reference.js'
import { copyImage } from './transfer/copy.js'
import { transferFiles } from './transfer/files.js'
import { mergePush } from './transfer/merge.js'
import { pull } from './transfer/pull.js'
import { push } from './transfer/push.js'
import type { TransferResult } from './transfer/result.js'
import { metadata, TransferReport } from './report.js'

/** The action's adapter: the only module that talks to the runner. */
export async function run(): Promise<void> {
  let direction = 'push'
  try {
    // Mask before anything can be logged.
    for (const name of ['password', 'source-password', 'github-token']) {
      const secret = core.getInput(name)
      if (secret) core.setSecret(secret)
    }
    const settings = readSettings((name: InputName) => core.getInput(name))
    direction = settings.direction
    const pushing = direction === 'push'
    for (const line of settings.warnings) core.warning(line)
    for (const line of settings.notices) core.info(line)
    const target = `${settings.registry ? `${settings.registry}/` : ''}${settings.reference}`
    // A copy writes registries, as a push does.
    const report = new TransferReport(direction !== 'pull', target)
    // One group per destination's transfer (and one for its referrers); everything else stands
    // outside, readable without unfolding.
    let group: string | undefined
    const closeGroup = (): void => {
      if (group !== undefined) core.endGroup()
      group = undefined
    }
    const openGroup = (title: string): void => {
      if (group === title) return
      closeGroup()
      core.startGroup(title)
      group = title
    }
    const onEvent = (e: CopyEvent): void => {
      const { group: title, line } = report.note(e)
      if (title === null) closeGroup()
      else if (title) openGroup(title)
      if (line) core.info(line)
    }
    // Where credentials came from, TLS checks off, warnings: said outside the transfer groups.
    const CLIENT_NOTICE = /^(Using credentials for |TLS verification is off )/
    let result: TransferResult & { layout?: string }
    try {
      const common = {
        ...engineOptions(settings),
        onEvent,
        onSecret: (secret: string) => core.setSecret(secret),
        onTrace: core.isDebug() ? (line: string) => core.debug(line) : undefined,
        onWarning: (line: string) => {
          closeGroup()
          core.warning(line)
        },
        onNotice: (line: string) => {
          if (!CLIENT_NOTICE.test(line)) return core.info(line)
          closeGroup()
          if (line.startsWith('TLS verification is off')) core.warning(line)
          else core.info(line)
        }
      }
      if (settings.files.length && direction !== 'copy') {
        // Artifact files: their own flow and outputs, no layout involved.
        const r = await transferFiles({
          ...common,
          direction: pushing ? 'push' : 'pull',
          files: settings.files,
          subject: settings.subject,
          artifactType: settings.artifactType,
          layout: settings.layout,
          platform: settings.platform,
          tempDir: process.env.RUNNER_TEMP || undefined
        })
        for (const line of r.lines) core.info(line)
        setOutputs({ ...r, metadata: JSON.stringify(r.metadata) })
        return
      }
      // Several layouts (a build per platform) are merged into one index and pushed.
      const layouts = pushing ? await Promise.all(settings.layouts.map(localLayout)) : []
      core.info(
        pushing
          ? `Reading ${settings.layouts.join(', ')}`
          : `Resolving ${direction === 'copy' ? settings.source : target}`
      )
      if (layouts.length > 1)
        result = await mergePush({
          ...common,
          layouts,
          annotations: settings.annotations,
          tags: settings.tags,
          mountFrom: settings.mountFrom,
          tempDir: process.env.RUNNER_TEMP || undefined
        })
      else if (pushing)
        result = await push({
          ...common,
          layout: layouts[0],
          tags: settings.tags,
          mountFrom: settings.mountFrom,
          tempDir: process.env.RUNNER_TEMP || undefined
        })
      else if (direction === 'copy')
        result = await copyImage({
          ...common,
          source: settings.source,
          sourceUsername: settings.sourceUsername,
          sourcePassword: settings.sourcePassword,
          tags: settings.tags,
          mountFrom: settings.mountFrom,
          platform: settings.platform
        })
      else result = await pull({ ...common, platform: settings.platform })
    } finally {
      closeGroup()
    }
    setOutputs({ ...result, metadata: metadata(result) })
    core.setOutput('platforms', JSON.stringify(result.platforms))
    if (result.layout) core.setOutput('layout', result.layout)
    for (const line of result.rateLimits) core.info(line)
    for (const line of report.closing(result)) core.info(line)
    if (settings.summary && process.env.GITHUB_STEP_SUMMARY) {
      // The work is done; a summary that cannot be written is worth a warning, not a failure.
      await core.summary
        .addRaw(report.summary(result))
        .write()
        .catch((err: unknown) =>
          core.warning(`Could not write the job summary: ${describeError(err)}`)
        )
    }
  } catch (err) {
    const title = { push: 'Push failed', pull: 'Pull failed', copy: 'Copy failed' }[direction]
    core.error(describeError(err), { title })
    process.exitCode = core.ExitCode.Failure
  }
}

/** The outputs a push, a pull, a copy and artifact files all set. */
function setOutputs(r: {
  digest: string
  reference: string
  tags: string[]
  mediaType: string
  size: number
  metadata: string
}): void {
  core.setOutput('digest', r.digest)
  core.setOutput('reference', r.reference)
  core.setOutput('tags', r.tags.join('\n'))
  core.setOutput('media-type', r.mediaType)
  core.setOutput('size', String(r.size))
  core.setOutput('metadata', r.metadata)
}

/** A layout given as an http(s) URL (a release asset, say) is downloaded first, selector kept. */
async function localLayout(layout: string): Promise<string> {
  const spec = parseLayoutSpec(layout)
  if (!/^https?:\/\//i.test(spec.path)) return layout
  core.info(`Downloading ${spec.path}`)
  const file = await tc.downloadTool(spec.path).catch((err: unknown) => {
    throw downloadError(spec.path, err)
  })
  return `${file}${spec.tag ? `:${spec.tag}` : spec.digest ? `@${spec.digest}` : ''}`
}

/** The one line for a layout URL that could not be downloaded: the URL, the status, the fix. */
function downloadError(url: string, err: unknown): LayoutError {
  const status = (err as { httpStatusCode?: unknown }).httpStatusCode
  const why = typeof status === 'number' ? `HTTP ${status}` : describeError(err)
  return new LayoutError(`cannot download the layout ${url}: ${why}`, {
    cause: err,
    hint:
      status === 404
        ? 'check the URL; a release asset must exist and be public, or download it in an earlier step'
        : 'check the URL and that the runner can reach it'
  })
}
