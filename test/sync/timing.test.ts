import t from 'tap'
import { createSyncTiming } from '../../services/sync/timing.js'

// Unit tests of the sync reconciler's timing with a fake clock: `now` is a
// number the test moves, and timers are recorded for the test to fire (or
// to find cancelled). Nothing here waits on wall-clock time.

const MINUTE = 60_000
const HOUR = 60 * MINUTE

type Timer = { fn: () => void; ms: number; cleared: boolean }

function fakeClock(start = Date.parse('2025-03-01T12:00:00Z')) {
  let now = start
  const timers: Timer[] = []
  return {
    now: () => new Date(now),
    at: () => now,
    advance(ms: number) {
      now += ms
    },
    timers: {
      setTimeout: (fn: () => void, ms: number) => {
        const timer = { fn, ms, cleared: false }
        timers.push(timer)
        return timer
      },
      clearTimeout: (handle: unknown) => {
        ;(handle as Timer).cleared = true
      },
    },
    /** Timers set and not cleared nor fired. */
    pending: () => timers.filter((timer) => !timer.cleared),
    /** Fires a timer as the runtime would (then it is no longer pending). */
    fire(timer: Timer | undefined) {
      if (!timer) throw new Error('no such timer')
      timer.cleared = true
      timer.fn()
    },
    all: timers,
  }
}

function timing(clock = fakeClock()) {
  return {
    clock,
    timing: createSyncTiming({
      heal: { initialMs: MINUTE, maxMs: 5 * MINUTE },
      retry: { initialMs: 10_000, maxMs: 60_000 },
      now: clock.now,
      timers: clock.timers,
    }),
  }
}

t.test('self-heal: the first at once, then blocked, backing off, doubling up to max', async (t) => {
  const { clock, timing: sync } = timing()
  t.equal(sync.healBlocked('a'), undefined, 'the first re-apply is allowed')
  sync.healed('a')
  const first = clock.at()
  t.same(sync.healBlocked('a'), { until: new Date(first + MINUTE), count: 1 })
  clock.advance(MINUTE - 1)
  t.ok(sync.healBlocked('a'), 'blocked until the initial delay has passed')
  clock.advance(1)
  t.equal(sync.healBlocked('a'), undefined, 'free again after the initial delay')

  const seen: number[] = []
  for (let i = 0; i < 4; i++) {
    sync.healed('a')
    const blocked = sync.healBlocked('a')
    if (!blocked) throw new Error('not blocked after a re-apply')
    seen.push(blocked.until.getTime() - clock.at())
    t.equal(blocked.count, i + 2, 'counts the re-applies of the last hour')
    clock.advance(blocked.until.getTime() - clock.at())
    t.equal(sync.healBlocked('a'), undefined)
  }
  t.same(seen, [2 * MINUTE, 4 * MINUTE, 5 * MINUTE, 5 * MINUTE], 'doubling, capped at max')
  t.equal(sync.healBlocked('b'), undefined, 'another stack has its own count')
})

t.test('self-heal counts the re-applies of the last hour only', async (t) => {
  const { clock, timing: sync } = timing()
  const start = clock.at()
  sync.healed('a') // at 0
  clock.advance(10 * MINUTE)
  sync.healed('a') // at 10 min
  clock.advance(10 * MINUTE)
  sync.healed('a') // at 20 min
  t.match(sync.healBlocked('a'), { count: 3 })
  clock.advance(40 * MINUTE + 1) // an hour and a millisecond after the first
  t.equal(sync.healBlocked('a'), undefined, 'the back-off of the last one has passed')
  sync.healed('a')
  t.same(
    sync.healBlocked('a'),
    { until: new Date(clock.at() + 4 * MINUTE), count: 3 },
    'the one older than an hour no longer counts (10 min, 20 min, now)',
  )
  clock.advance(HOUR + 1)
  sync.healed('a')
  t.same(
    sync.healBlocked('a'),
    { until: new Date(clock.at() + MINUTE), count: 1 },
    'after a quiet hour, the back-off starts over',
  )
  t.ok(clock.at() > start + 2 * HOUR)
})

t.test('engine retry: delays double and cap; success starts over', async (t) => {
  const { timing: sync } = timing()
  const delays = Array.from({ length: 6 }, () => sync.retryLater('a', 'tree-1'))
  t.same(delays, [10_000, 20_000, 40_000, 60_000, 60_000, 60_000])
  t.equal(sync.retryLater('b', 'tree-9'), 10_000, 'per stack')
  sync.succeeded('a')
  t.equal(sync.retryLater('a', 'tree-1'), 10_000, 'a completed run resets the back-off')
  t.equal(sync.retryLater('a', 'tree-1'), 20_000)
})

t.test('a tree that waits for its retry is not started by anything else until due', async (t) => {
  const { timing: sync } = timing()
  t.notOk(sync.waitsForRetry('a', 'tree-1'))
  sync.retryLater('a', 'tree-1')
  t.ok(sync.waitsForRetry('a', 'tree-1'))
  t.notOk(sync.waitsForRetry('a', 'tree-2'), 'a new tree does not wait for the old one')
  t.notOk(sync.waitsForRetry('b', 'tree-1'), 'nor does another stack')
  sync.retryLater('a', 'tree-2')
  t.notOk(sync.waitsForRetry('a', 'tree-1'), 'the newer failed tree is the one retried')
  t.ok(sync.waitsForRetry('a', 'tree-2'))
  sync.retryDue('a')
  t.notOk(sync.waitsForRetry('a', 'tree-2'), 'its time came')
  t.equal(sync.retryLater('a', 'tree-2'), 40_000, 'a due retry keeps the count of failures')
})

t.test('later: one timer per stack, the newest replaces the earlier', async (t) => {
  const { clock, timing: sync } = timing()
  const calls: string[] = []
  sync.later('a', 1_000, () => calls.push('a-first'))
  sync.later('b', 3_000, () => calls.push('b'))
  sync.later('a', 2_000, () => calls.push('a-second'))
  t.same(
    clock.pending().map((timer) => timer.ms),
    [3_000, 2_000],
    "a's first timer was cleared",
  )
  t.ok(clock.all[0]?.cleared)
  clock.fire(clock.pending()[1])
  clock.fire(clock.pending()[0])
  t.same(calls, ['a-second', 'b'])
  sync.later('c', -50, () => calls.push('c'))
  t.equal(clock.pending()[0]?.ms, 0, 'a time already past fires at once, never negative')
  clock.fire(clock.pending()[0])
  t.same(calls, ['a-second', 'b', 'c'])

  // A timer that fired is forgotten: a later one of the stack does not clear a stale handle.
  sync.later('a', 500, () => calls.push('a-third'))
  t.equal(clock.pending().length, 1)
  clock.fire(clock.pending()[0])
  t.same(calls, ['a-second', 'b', 'c', 'a-third'])
})

t.test('a callback may set the next timer of its stack', async (t) => {
  const { clock, timing: sync } = timing()
  let runs = 0
  const again = () => {
    runs++
    if (runs < 3) sync.later('a', 100, again)
  }
  sync.later('a', 100, again)
  clock.fire(clock.pending()[0])
  t.equal(clock.pending().length, 1, 'the new timer is kept, not cleared as the old one')
  clock.fire(clock.pending()[0])
  t.equal(runs, 2)
  t.equal(clock.pending().length, 1)
  clock.fire(clock.pending()[0])
  t.equal(runs, 3)
  t.equal(clock.pending().length, 0, 'the last one set none')
})

t.test('close cancels every timer; no callback runs after it', async (t) => {
  const { clock, timing: sync } = timing()
  const calls: string[] = []
  sync.later('a', 1_000, () => calls.push('a'))
  sync.later('b', 2_000, () => calls.push('b'))
  const [a, b] = clock.pending()
  sync.close()
  t.same(clock.pending(), [], 'every timer cleared')
  // A runtime may still call a callback it had queued when the timer was cleared.
  a?.fn()
  b?.fn()
  sync.later('c', 0, () => calls.push('c'))
  for (const timer of clock.all) timer.fn()
  t.same(calls, [], 'nothing runs after close')
})

t.test('forget: a stack that left Git leaves nothing behind', async (t) => {
  const { clock, timing: sync } = timing()
  const calls: string[] = []
  sync.healed('a')
  sync.healed('b')
  sync.retryLater('a', 'tree-1')
  sync.retryLater('a', 'tree-1')
  sync.retryLater('b', 'tree-1')
  sync.later('a', 1_000, () => calls.push('a'))
  sync.later('b', 1_000, () => calls.push('b'))
  sync.forget('a')
  t.equal(sync.healBlocked('a'), undefined, 'its self-heal count is gone')
  t.notOk(sync.waitsForRetry('a', 'tree-1'), 'its retry is gone')
  t.equal(sync.retryLater('a', 'tree-1'), 10_000, 'its failures are gone')
  t.equal(clock.pending().length, 1, 'its timer is cleared')
  clock.fire(clock.pending()[0])
  t.same(calls, ['b'])
  t.ok(sync.healBlocked('b'), 'other stacks keep theirs')
  t.ok(sync.waitsForRetry('b', 'tree-1'))
})

t.test('a run that completes before its retry is due cancels the retry', async (t) => {
  const { clock, timing: timer } = timing()
  const delay = timer.retryLater('a', 'tree-1')
  let retried = false
  timer.later('a', delay, () => {
    retried = true
  })
  t.ok(timer.waitsForRetry('a', 'tree-1'))
  timer.succeeded('a') // a manual sync deployed it meanwhile
  t.notOk(timer.waitsForRetry('a', 'tree-1'), 'no retry waits any more')
  t.equal(clock.pending().length, 0, 'the retry timer is cancelled')
  t.notOk(retried)
  t.equal(timer.retryLater('a', 'tree-2'), 10_000, 'the back-off starts over')
})
