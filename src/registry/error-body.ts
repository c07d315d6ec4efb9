import type { RegistryErrorDetail } from '../errors/errors.js'

/** Reads the distribution-spec `{"errors":[{code,message,detail}]}` body; anything else yields none. */
export function parseErrorBody(body: Buffer): RegistryErrorDetail[] {
  if (body.length === 0) return []
  try {
    const json = JSON.parse(body.toString('utf8')) as { errors?: unknown }
    if (!Array.isArray(json.errors)) return []
    return json.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({
        code: typeof e.code === 'string' ? e.code : 'UNKNOWN',
        message: typeof e.message === 'string' ? e.message : '',
        detail: e.detail
      }))
  } catch {
    const text = body.toString('utf8').trim().split('\n')[0].slice(0, 200)
    return text ? [{ code: 'UNKNOWN', message: text }] : []
  }
}
