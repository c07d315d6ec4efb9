import type { Sink } from '../content/sink.js'
import type { CopyEvent } from '../copy/copy.js'
import type { FanOutSink } from '../copy/fan-out.js'
import type { Descriptor } from '../oci/types.js'

/**
 * The events of destinations that move at once, told as if they moved one after the other, so
 * the log keeps one group per destination, in the order given: the first destination's events as
 * they come, the others' held until `flush`.
 */
export class DestinationLog {
  readonly #emit?: (event: CopyEvent) => void
  readonly #held: CopyEvent[][]

  constructor(destinations: number, emit?: (event: CopyEvent) => void) {
    this.#emit = emit
    this.#held = Array.from({ length: destinations }, () => [])
  }

  /** An event of the i-th destination. */
  tell(i: number, event: CopyEvent): void {
    if (!this.#emit) return
    if (i === 0) this.#emit(event)
    else this.#held[i].push(event)
  }

  /** Tells what was held, destination by destination. */
  flush(): void {
    for (const events of this.#held) for (const e of events.splice(0)) this.#emit?.(e)
  }
}

/** A destination of a copy over a fan-out: its place in the log, and its member (none when it held the root). */
export interface FannedDestination {
  index: number
  name: string
  member?: Sink
}

/**
 * What a copy over a fan-out says, as each destination's own copy would have said it: `graph` for
 * each, then each item with the way that destination came to hold it. A destination left out for
 * holding `root` already is told so, as a copy that finds the root says it.
 */
export function fanOutEvents(
  fan: FanOutSink,
  destinations: FannedDestination[],
  log: DestinationLog,
  root?: Descriptor
): (event: CopyEvent) => void {
  const members = destinations.filter((d) => d.member !== undefined)
  // Progress lines are the shared read's: told once, with the first destination reading it.
  const reader = members[0]
  return (e) => {
    switch (e.type) {
      case 'graph':
        for (const d of destinations) {
          log.tell(d.index, { ...e, target: d.name })
          if (!d.member && root)
            log.tell(d.index, {
              type: 'manifest',
              desc: root,
              outcome: 'exists',
              ms: 0,
              target: d.name
            })
        }
        return
      case 'progress':
        if (reader) log.tell(reader.index, { ...e, target: reader.name })
        return
      case 'blob':
      case 'manifest':
        for (const d of members) {
          const outcome = fan.outcome(d.member as Sink, e.desc.digest) ?? e.outcome
          log.tell(d.index, { ...e, outcome, target: d.name })
        }
        return
      case 'tag':
        log.tell(destinations[0]?.index ?? 0, e)
    }
  }
}
