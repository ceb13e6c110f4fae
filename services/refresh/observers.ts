import type { RefreshTrigger } from '../../schemas/refresh.js'
import type { StackHealth, StackStatus } from '../../schemas/stack.js'
import type { RefreshOutcome } from './outcome.js'
import type { Snapshot } from './snapshot.js'

// Who hears about refreshes (event feed, metrics, logs), through the
// observer list every lifecycle uses (services/base/observer-list.ts).

/** Told about every refresh; a throwing observer is reported, never allowed to stall a waiter. */
export type RefreshObserver = {
  refreshStarted?(event: { trigger: RefreshTrigger; snapshot: Snapshot }): void
  refreshFinished?(outcome: RefreshOutcome, snapshot: Snapshot): void
  /** A stack's status, health or reason changed (`from` equals `to` when only one of the last two did). */
  stackStatusChanged?(event: {
    path: string
    from: StackStatus
    to: StackStatus
    /** Why, in words (the stack's reason after the change), when the writer gave one. */
    reason?: string
    /** The stack's health after the change, when the host reported one. */
    health?: StackHealth
  }): void
}
