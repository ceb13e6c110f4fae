import { EVENT_KINDS, type EventKind } from './events.js'

// NOTIFY_ON: which kinds of event are worth a message. The default is what
// goes wrong and what mends it; a routine deploy that went well is opt-in
// (`deployed`), because on a busy repository it would drown the rest.

/** Failures, rollbacks, recoveries, drift and repairs, take-downs, outages. */
export const DEFAULT_NOTIFY_ON: ReadonlySet<EventKind> = new Set<EventKind>(
  EVENT_KINDS.filter((kind) => kind !== 'deployed' && kind !== 'test'),
)

/** Kinds an operator may name: every kind but `test` (a test message is always sent). */
const NAMEABLE = EVENT_KINDS.filter((kind) => kind !== 'test')

/**
 * Reads NOTIFY_ON: a comma-separated list of kinds, where `default` stands
 * for the default set and `all` for every kind. Empty or unset is the
 * default. An unknown word is a problem line naming it (the rest still counts).
 */
export function parseNotifyOn(text: string | undefined): {
  on: ReadonlySet<EventKind>
  problems: string[]
} {
  const words = (text ?? '')
    .split(',')
    .map((word) => word.trim().toLowerCase())
    .filter((word) => word !== '')
  if (words.length === 0) return { on: DEFAULT_NOTIFY_ON, problems: [] }
  const on = new Set<EventKind>()
  const problems: string[] = []
  for (const word of words) {
    if (word === 'all') for (const kind of NAMEABLE) on.add(kind)
    else if (word === 'default') for (const kind of DEFAULT_NOTIFY_ON) on.add(kind)
    else if ((NAMEABLE as readonly string[]).includes(word)) on.add(word as EventKind)
    else
      problems.push(
        `NOTIFY_ON: unknown event kind "${word}" (known: ${NAMEABLE.join(', ')}, all, default)`,
      )
  }
  return { on, problems }
}
