import type { RefreshTrigger } from '../../schemas/refresh.js'

// Paces the starts of refreshes that anyone can ask for (webhook, manual)
// with a token bucket: `burst` starts at once, then `burst` more per
// `periodMs`, refilled continuously. A request that finds the bucket empty
// is not refused: it waits in the queue's one coalescing slot (answered
// `queued`) until a token is there, so any number of callers costs the Git
// host at most the sustained rate. Startup and periodic refreshes are the
// service's own schedule and are never paced.

export type RefreshRate = { burst: number; periodMs: number }

const PACED: ReadonlySet<RefreshTrigger> = new Set(['webhook', 'manual'])

export const isPaced = (trigger: RefreshTrigger) => PACED.has(trigger)

export function createRefreshPacer(rate: RefreshRate | null, now: () => number = Date.now) {
  const perMs = rate ? rate.burst / rate.periodMs : 0
  let tokens = rate?.burst ?? 0
  let at = now()

  function refill() {
    if (!rate) return
    const t = now()
    tokens = Math.min(rate.burst, tokens + (t - at) * perMs)
    at = t
  }

  return {
    /**
     * Milliseconds until a refresh for `trigger` may start: 0 takes a token
     * (or needs none) and means "start now".
     */
    delayFor(trigger: RefreshTrigger): number {
      if (!rate || !isPaced(trigger)) return 0
      refill()
      if (tokens >= 1) {
        tokens -= 1
        return 0
      }
      return Math.max(1, Math.ceil((1 - tokens) / perMs))
    },
  }
}

export type RefreshPacer = ReturnType<typeof createRefreshPacer>
