import type { RefreshTrigger } from '../../schemas/refresh.js'

// Decides when the next automatic refresh happens: the poll interval with
// ±10% jitter after a success (so a fleet does not hit Git in step), and
// exponential backoff after a failure (so a broken remote is not hammered,
// yet recovery is noticed quickly even with polling disabled).

export type Timers = {
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

type SchedulerOptions = {
  intervalMs: number
  enqueue: (trigger: RefreshTrigger) => void
  backoffInitialMs?: number
  backoffMaxMs?: number
  random?: () => number
  timers?: Timers
}

/** Node's timers, unref'd: a pending retry or poll never keeps the process alive. */
export const unrefTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms)
    handle.unref()
    return handle
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

export function jitter(intervalMs: number, random: () => number): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random()))
}

export function backoffDelay(failures: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1))
}

export function createRefreshScheduler(options: SchedulerOptions) {
  const random = options.random ?? Math.random
  const timers = options.timers ?? unrefTimers
  const initial = options.backoffInitialMs ?? 5_000
  // Never back off past the poll interval (when polling), nor past 5 minutes.
  const max = Math.min(
    options.backoffMaxMs ?? 300_000,
    options.intervalMs || Number.POSITIVE_INFINITY,
  )
  let handle: unknown
  let failures = 0
  let stopped = false

  function schedule(delayMs: number | undefined) {
    if (handle !== undefined) timers.clearTimeout(handle)
    handle = undefined
    if (stopped || delayMs === undefined) return
    handle = timers.setTimeout(() => {
      handle = undefined
      options.enqueue('periodic')
    }, delayMs)
  }

  return {
    /** Call after every refresh, whatever its trigger: the clock restarts from the freshest state. */
    refreshFinished(succeeded: boolean) {
      if (succeeded) {
        failures = 0
        schedule(options.intervalMs > 0 ? jitter(options.intervalMs, random) : undefined)
      } else {
        failures += 1
        schedule(backoffDelay(failures, initial, max))
      }
    },
    /** Consecutive failed refreshes (0 after a success). */
    failures: () => failures,
    stop() {
      stopped = true
      schedule(undefined)
    },
  }
}
