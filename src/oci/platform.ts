import { InputError } from '../errors/errors.js'
import type { Descriptor, Platform } from './types.js'

interface Wanted {
  os: string
  architecture: string
  variant: string
}

const ARCH_ALIASES: Record<string, [string, string?]> = {
  x86_64: ['amd64'],
  'x86-64': ['amd64'],
  aarch64: ['arm64'],
  armhf: ['arm', 'v7'],
  armel: ['arm', 'v6'],
  i386: ['386'],
  i686: ['386']
}

/** Fills in the variants that containerd treats as implied (arm64 → v8, arm → v7, amd64 → v1). */
function normalise(os: string, arch: string, variant = ''): Wanted {
  const alias = ARCH_ALIASES[arch.toLowerCase()]
  let architecture = arch.toLowerCase()
  if (alias) {
    architecture = alias[0]
    variant ||= alias[1] ?? ''
  }
  variant = variant.toLowerCase()
  if (architecture === 'arm64' && (variant === '' || variant === '8')) variant = 'v8'
  if (architecture === 'arm' && variant === '') variant = 'v7'
  if (architecture === 'arm' && /^\d$/.test(variant)) variant = `v${variant}`
  if (architecture === 'amd64' && variant === '') variant = 'v1'
  return { os: os.toLowerCase(), architecture, variant }
}

export function parsePlatform(spec: string): Wanted {
  const parts = spec.trim().split('/')
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new InputError(`invalid platform "${spec}"`, {
      hint: 'expected os/arch[/variant], e.g. linux/arm64 or linux/arm/v7'
    })
  }
  return normalise(parts[0], parts[1], parts[2])
}

/**
 * Picks the child of an index that runs on `spec`, as containerd matches: os and architecture
 * exact, variant exact after normalising; for 32-bit arm an older variant is the fallback.
 */
export function selectPlatform(children: Descriptor[], spec: string): Descriptor | undefined {
  const want = parsePlatform(spec)
  const candidates = children.filter((d) => d.platform && d.platform.os !== 'unknown')
  const norm = (p: Platform): Wanted => normalise(p.os, p.architecture, p.variant)
  const same = (p: Platform): boolean => {
    const n = norm(p)
    return n.os === want.os && n.architecture === want.architecture
  }
  const exact = candidates.find(
    (d) => same(d.platform as Platform) && norm(d.platform as Platform).variant === want.variant
  )
  if (exact || want.architecture !== 'arm') return exact
  for (let v = Number(want.variant.slice(1)) - 1; v >= 5; v--) {
    const older = candidates.find(
      (d) => same(d.platform as Platform) && norm(d.platform as Platform).variant === `v${v}`
    )
    if (older) return older
  }
  return undefined
}
