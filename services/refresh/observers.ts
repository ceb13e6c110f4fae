import type { RefreshTrigger } from '../../schemas/refresh.js'
import type { StackHealth, StackStatus } from '../../schemas/stack.js'
import type { RefreshOutcome } from './outcome.js'
import type { Snapshot } from './snapshot.js'

// Who hears about refreshes (event feed, metrics, logs): each observer is
// called in turn, and one that throws is reported, never allowed to stall
// the lifecycle or a waiter.

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

export function createObserverList(
  initial: readonly RefreshObserver[],
  onError?: (error: unknown) => void,
) {
  const observers = [...initial]
  return {
    add(observer: RefreshObserver) {
      observers.push(observer)
    },
    /** Calls every observer (or only `only`); failures go to `onError`. */
    notify(call: (observer: RefreshObserver) => void, only?: RefreshObserver) {
      for (const observer of observers) {
        if (only && observer !== only) continue
        try {
          call(observer)
        } catch (error) {
          try {
            onError?.(error)
          } catch {
            // A broken error sink must not break the lifecycle either.
          }
        }
      }
    },
  }
}
