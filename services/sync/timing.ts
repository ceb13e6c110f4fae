import { backoffDelay, type Timers, unrefTimers } from '../refresh/index.js'

// When the reconciler may act on a stack again, per stack:
// - self-heal: a drifting stack is re-applied at once the first time, then
//   backing off (initial, doubling, up to max) while it keeps drifting,
//   counted over the last hour — a container that keeps dying is not
//   re-created in a loop;
// - engine retry: a run that failed on the engine's or docker-cd's side is
//   tried again on the same tree after a back-off (initial, doubling, up to
//   max), and nothing else starts that tree meanwhile.
// One back-off formula for the house (refresh's backoffDelay), one timer per
// stack, all cancelled on close.

export type Backoff = { initialMs: number; maxMs: number }

const HOUR_MS = 3_600_000

export function createSyncTiming(options: {
  heal: Backoff
  retry: Backoff
  now: () => Date
  timers?: Timers
}) {
  const timers = options.timers ?? unrefTimers
  /** When each stack was last re-applied by self-heal (the last hour). */
  const heals = new Map<string, number[]>()
  /** The tree each stack waits to retry after an engine failure. */
  const retrying = new Map<string, string>()
  /** Engine failures in a row, per stack. */
  const failures = new Map<string, number>()
  const pending = new Map<string, unknown>()
  let closed = false

  /** Runs `then` after `delayMs`, replacing the stack's earlier timer; never after close(). */
  function later(path: string, delayMs: number, then: () => void) {
    cancel(path)
    pending.set(
      path,
      timers.setTimeout(
        () => {
          pending.delete(path)
          if (!closed) then()
        },
        Math.max(0, delayMs),
      ),
    )
  }

  function cancel(path: string) {
    if (pending.has(path)) timers.clearTimeout(pending.get(path))
    pending.delete(path)
  }

  return {
    later,
    /** Self-heal may not run yet: until when, and how many re-applies the last hour saw. */
    healBlocked(path: string): { until: Date; count: number } | undefined {
      const now = options.now().getTime()
      const times = (heals.get(path) ?? []).filter((time) => time > now - HOUR_MS)
      heals.set(path, times)
      const last = times.at(-1)
      if (last === undefined) return undefined
      const until = last + backoffDelay(times.length, options.heal.initialMs, options.heal.maxMs)
      return until > now ? { until: new Date(until), count: times.length } : undefined
    },
    /** A self-heal re-apply starts now. */
    healed(path: string) {
      heals.set(path, [...(heals.get(path) ?? []), options.now().getTime()])
    },
    /** A run failed on the engine's or docker-cd's side: the delay before `tree` is tried again. */
    retryLater(path: string, tree: string): number {
      retrying.set(path, tree)
      const count = (failures.get(path) ?? 0) + 1
      failures.set(path, count)
      return backoffDelay(count, options.retry.initialMs, options.retry.maxMs)
    },
    /** This tree waits for its retry: nothing else starts it. */
    waitsForRetry: (path: string, tree: string) => retrying.get(path) === tree,
    /** The retry's time came. */
    retryDue(path: string) {
      retrying.delete(path)
    },
    /** A run completed (a manual sync, say, before the retry's time): no retry is due, the back-off starts over. */
    succeeded(path: string) {
      if (retrying.has(path)) cancel(path)
      retrying.delete(path)
      failures.delete(path)
    },
    /** The stack left Git. */
    forget(path: string) {
      cancel(path)
      heals.delete(path)
      retrying.delete(path)
      failures.delete(path)
    },
    close() {
      closed = true
      for (const path of [...pending.keys()]) cancel(path)
    },
  }
}

export type SyncTiming = ReturnType<typeof createSyncTiming>
