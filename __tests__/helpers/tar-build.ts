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

/** One PAX record, `LEN key=value\n`, whose length counts its own digits. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`
  let len = Buffer.byteLength(body) + 1
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body)
  return `${len}${body}`
}

export function paxBody(records: Record<string, string>): Buffer {
  return Buffer.from(
    Object.entries(records)
      .map(([k, v]) => paxRecord(k, v))
      .join('')
  )
}

/** A PAX extended header (`x`) block with its body, padded, to put before a member. */
export function paxBlock(records: string): Buffer {
  return makeTar([{ path: 'PaxHeader/x', type: 'ExtendedHeader', body: Buffer.from(records) }], {
    end: false
  })
}

/** A tar of `members` (with the end-of-archive blocks unless `end: false`). */
export function makeTar(members: Member[], opts: { end?: boolean } = {}): Buffer {
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
  if (opts.end !== false) parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

/** Recomputes the checksum of the ustar header at `at` after a byte was changed on purpose. */
export function fixChecksum(tar: Buffer, at: number): void {
  tar.fill(0x20, at + 148, at + 156)
  let sum = 0
  for (let i = 0; i < 512; i++) sum += tar[at + i]
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 8, 'latin1')
}
