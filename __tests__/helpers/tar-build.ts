// Building tars by hand: 512-byte headers from node-tar's Header, so any member type can be made.
import { Header } from 'tar'

export type MemberType =
  | 'File'
  | 'ContiguousFile'
  | 'Directory'
  | 'SymbolicLink'
  | 'Link'
  | 'CharacterDevice'
  | 'BlockDevice'
  | 'FIFO'
  | 'SparseFile'

/** Headers whose body describes the next member (or, global, all that follow). */
export type ExtensionType =
  | 'ExtendedHeader'
  | 'GlobalExtendedHeader'
  | 'NextFileHasLongPath'
  | 'OldGnuLongPath'
  | 'NextFileHasLongLinkpath'

/** The member types that carry a body. */
const WITH_BODY = new Set<string>([
  'File',
  'ContiguousFile',
  'ExtendedHeader',
  'GlobalExtendedHeader',
  'NextFileHasLongPath',
  'OldGnuLongPath',
  'NextFileHasLongLinkpath'
])

export interface Member {
  path: string
  type?: MemberType | ExtensionType
  linkpath?: string
  body?: Buffer
  /** PAX records written in an `x` header before the member. */
  pax?: Record<string, string>
}

export function paxBody(records: Record<string, string>): Buffer {
  let out = ''
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`
    let len = Buffer.byteLength(body) + 1
    while (String(len).length + Buffer.byteLength(body) !== len)
      len = String(len).length + Buffer.byteLength(body)
    out += `${len}${body}`
  }
  return Buffer.from(out)
}

export function makeTar(members: Member[]): Buffer {
  const parts: Buffer[] = []
  const expanded = members.flatMap((m): Member[] =>
    m.pax
      ? [{ path: 'PaxHeader/x', type: 'ExtendedHeader' as const, body: paxBody(m.pax) }, m]
      : [m]
  )
  for (const m of expanded) {
    const type = m.type ?? 'File'
    const body = WITH_BODY.has(type) ? (m.body ?? Buffer.alloc(0)) : Buffer.alloc(0)
    const header = new Header({
      path: m.path,
      type,
      linkpath: m.linkpath ?? '',
      size: body.length,
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date(0),
      devmaj: 1,
      devmin: 3
    })
    header.encode()
    parts.push(header.block as Buffer)
    if (body.length) parts.push(body, Buffer.alloc((512 - (body.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}
