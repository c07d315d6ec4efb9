/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: 'basic' | 'bearer' | string
  params: Record<string, string>
}

/** Parses `Bearer realm="…",service="…",scope="…"` (quoted or token values, any order). */
export function parseChallenge(value: string | undefined): Challenge | undefined {
  if (!value) return undefined
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(value)
  if (!m) return undefined
  const params: Record<string, string> = {}
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g
  let p: RegExpExecArray | null
  while ((p = re.exec(m[2])) !== null) {
    if (p[0] === '') break
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]
  }
  return { scheme: m[1].toLowerCase(), params }
}
