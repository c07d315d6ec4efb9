import { InputError } from './content/errors.js'
import type { PlainHttp } from './registry/client.js'

/** The action's inputs, named as in action.yml; the CLI takes the same names as flags. */
export const INPUT_NAMES = [
  'direction',
  'layout',
  'registry',
  'reference',
  'username',
  'password',
  'plain-http',
  'concurrency',
  'platform'
] as const
export type InputName = (typeof INPUT_NAMES)[number]

export interface Settings {
  direction: 'push' | 'pull'
  layout: string
  registry: string
  reference: string
  username: string
  password: string
  plainHttp: PlainHttp
  concurrency?: number
  platform?: string
}

/**
 * Reads and checks every input. An empty input means its default, as on the runner, so a local
 * run without action.yml's defaults behaves the same.
 */
export function readSettings(get: (name: InputName) => string): Settings {
  const direction = (get('direction').trim() || 'push').toLowerCase()
  if (direction !== 'push' && direction !== 'pull') {
    throw new InputError(`direction must be push or pull, not "${direction}"`)
  }
  const plainHttp = (get('plain-http').trim() || 'auto').toLowerCase()
  if (plainHttp !== 'auto' && plainHttp !== 'true' && plainHttp !== 'false') {
    throw new InputError(`plain-http must be auto, true or false, not "${plainHttp}"`)
  }
  const concurrencyText = get('concurrency').trim()
  let concurrency: number | undefined
  if (concurrencyText) {
    concurrency = Number(concurrencyText)
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
      throw new InputError(
        `concurrency must be a whole number from 1 to 64, not "${concurrencyText}"`
      )
    }
  }
  const layout = get('layout').trim()
  if (!layout)
    throw new InputError('the layout input is empty', {
      hint: 'set it to the OCI layout tar or directory, e.g. app.tar or app.tar:v1'
    })
  const username = get('username').trim()
  const password = get('password')
  if ((username === '') !== (password === '')) {
    throw new InputError(
      username
        ? `a username (${username}) was given without a password`
        : 'a password was given without a username',
      {
        hint: 'set both username and password, or neither for anonymous access'
      }
    )
  }
  return {
    direction,
    layout,
    registry: get('registry').trim(),
    reference: get('reference').trim(),
    username,
    password,
    plainHttp,
    concurrency,
    platform: get('platform').trim() || undefined
  }
}
