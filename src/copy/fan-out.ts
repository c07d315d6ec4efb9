import { SharedContent } from '../content/shared-content.js'
import type { Content, PushOutcome, Sink } from '../content/sink.js'
import type { Descriptor } from '../oci/types.js'
import type { TransferOutcome } from './copy.js'
import { settleAll } from './limiter.js'

/**
 * Several sinks as one (one repository per registry of a push): one copy walks the graph once,
 * and each blob is read and hashed once (SharedContent) whatever the number of members. A member
 * is sent only what it lacks; when one fails, the others finish what they started and the first
 * failure is thrown, so the caller tags nothing.
 */
export class FanOutSink implements Sink {
  readonly name: string
  readonly members: readonly Sink[]
  /** Members that lack a digest, as last asked (or known beforehand), and not sent it since. */
  readonly #lacking = new Map<string, Set<Sink>>()
  /** How each member came to hold each digest. */
  readonly #outcomes = new Map<Sink, Map<string, TransferOutcome>>()
  readonly #sent = new Map<Sink, number>()

  /** @param absent content every member is known to lack (the root, asked about by the caller) */
  constructor(members: Sink[], absent: Descriptor[] = []) {
    this.members = members
    this.name = members.map((m) => m.name).join(', ')
    for (const m of members) {
      this.#outcomes.set(m, new Map())
      this.#sent.set(m, 0)
    }
    for (const d of absent) this.#lacking.set(d.digest, new Set(members))
  }

  /** How `member` came to hold `digest`, once it does. */
  outcome(member: Sink, digest: string): TransferOutcome | undefined {
    return this.#outcomes.get(member)?.get(digest)
  }

  /** Bytes uploaded to `member` (mounted and present content not counted). */
  bytesSent(member: Sink): number {
    return this.#sent.get(member) ?? 0
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const known = this.#lacking.get(desc.digest)
    if (known) return known.size === 0
    const answers = await settleAll(this.members.map((m) => m.exists(desc)))
    const lacking = new Set(this.members.filter((_, i) => !answers[i]))
    for (const m of this.members)
      if (!lacking.has(m)) this.#outcomes.get(m)?.set(desc.digest, 'exists')
    this.#lacking.set(desc.digest, lacking)
    return lacking.size === 0
  }

  /** When every member asks while pushing, the push goes to all and each finds out for itself. */
  asksOnPush(desc: Descriptor): boolean {
    return !this.#lacking.has(desc.digest) && this.members.every((m) => m.asksOnPush?.(desc))
  }

  async push(desc: Descriptor, content: Content): Promise<PushOutcome> {
    // Pushed without a lack known (a registry that said it had a blob, then denied it): to all.
    const known = this.#lacking.get(desc.digest)
    const targets = known?.size ? [...known] : [...this.members]
    let outcomes: PushOutcome[]
    if (Buffer.isBuffer(content) || targets.length === 1) {
      outcomes = await settleAll(targets.map((m) => this.#record(m, desc, m.push(desc, content))))
    } else {
      const shared = new SharedContent(content, targets.length)
      outcomes = await settleAll(
        targets.map(async (m, i) => {
          try {
            return await this.#record(m, desc, m.push(desc, shared.lane(i)))
          } finally {
            // Its read no longer waits for this member (it mounted, failed, or is done).
            shared.release(i)
          }
        })
      )
    }
    if (outcomes.includes('uploaded')) return 'uploaded'
    return outcomes.every((o) => o === 'exists') ? 'exists' : 'mounted'
  }

  async #record(
    member: Sink,
    desc: Descriptor,
    pushed: Promise<PushOutcome>
  ): Promise<PushOutcome> {
    const outcome = await pushed
    this.#lacking.get(desc.digest)?.delete(member)
    this.#outcomes.get(member)?.set(desc.digest, outcome)
    if (outcome === 'uploaded') this.#sent.set(member, (this.#sent.get(member) ?? 0) + desc.size)
    return outcome
  }

  async tag(desc: Descriptor, tag: string, bytes?: Buffer): Promise<void> {
    await settleAll(this.members.map((m) => m.tag(desc, tag, bytes)))
  }

  async prepare(descs: Descriptor[]): Promise<void> {
    await settleAll(this.members.map(async (m) => m.prepare?.(descs)))
  }

  async addReferrers(subject: Descriptor, referrers: Descriptor[]): Promise<void> {
    await settleAll(this.members.map(async (m) => m.addReferrers?.(subject, referrers)))
  }
}
