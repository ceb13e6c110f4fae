import t from 'tap'
import type { RefreshTrigger } from '../../schemas/refresh.js'
import { backoffDelay, createRefreshScheduler, jitter } from '../../services/refresh/scheduler.js'

// A fake clock: timers are recorded, and the test fires them.
function fakeTimers() {
  const pending = new Map<number, { fn: () => void; ms: number }>()
  let next = 1
  return {
    pending,
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        pending.set(next, { fn, ms })
        return next++
      },
      clearTimeout: (handle: unknown) => {
        pending.delete(handle as number)
      },
    },
    fire() {
      const [[id, timer]] = [...pending.entries()] as [[number, { fn: () => void; ms: number }]]
      pending.delete(id)
      timer.fn()
    },
    delays: () => [...pending.values()].map((timer) => timer.ms),
  }
}

t.test('jitter stays within ±10%', async (t) => {
  t.equal(
    jitter(60_000, () => 0),
    54_000,
  )
  t.equal(
    jitter(60_000, () => 1),
    66_000,
  )
  t.equal(
    jitter(60_000, () => 0.5),
    60_000,
  )
})

t.test('polling after success, with jitter; one timer at a time', async (t) => {
  const clock = fakeTimers()
  const enqueued: RefreshTrigger[] = []
  const scheduler = createRefreshScheduler({
    intervalMs: 300_000,
    enqueue: (trigger) => enqueued.push(trigger),
    random: () => 0.25,
    timers: clock.timers,
  })
  scheduler.refreshFinished(true)
  t.same(clock.delays(), [285_000])
  scheduler.refreshFinished(true)
  t.same(clock.delays(), [285_000], 'a newer refresh restarts the clock instead of adding a timer')
  clock.fire()
  t.same(enqueued, ['periodic'])
})

t.test('backoff after failures, capped, reset by success', async (t) => {
  const clock = fakeTimers()
  const scheduler = createRefreshScheduler({
    intervalMs: 60_000,
    enqueue: () => {},
    backoffInitialMs: 5_000,
    random: () => 0.5,
    timers: clock.timers,
  })
  const seen: number[] = []
  for (let i = 0; i < 6; i++) {
    scheduler.refreshFinished(false)
    seen.push(...clock.delays())
  }
  t.same(seen, [5_000, 10_000, 20_000, 40_000, 60_000, 60_000], 'capped at the poll interval')
  scheduler.refreshFinished(true)
  t.same(clock.delays(), [60_000])
  t.equal(scheduler.failures(), 0)
  t.equal(backoffDelay(20, 5_000, 300_000), 300_000)
})

t.test('interval 0 disables polling but failures are still retried', async (t) => {
  const clock = fakeTimers()
  const scheduler = createRefreshScheduler({
    intervalMs: 0,
    enqueue: () => {},
    timers: clock.timers,
  })
  scheduler.refreshFinished(true)
  t.same(clock.delays(), [])
  scheduler.refreshFinished(false)
  t.same(clock.delays(), [5_000])
  scheduler.stop()
  t.same(clock.delays(), [], 'stop clears the timer')
  scheduler.refreshFinished(false)
  t.same(clock.delays(), [], 'nothing is scheduled after stop')
})
