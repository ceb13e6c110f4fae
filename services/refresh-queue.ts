import type { RefreshTrigger } from '../schemas/refresh.js'

// One refresh at a time, plus one waiting slot that newer requests replace.
// Every request gets a promise for the refresh that covers it. A request that
// arrives while a refresh runs is covered by the next one, not the running
// one: the running one may already have fetched, before the request arrived.

export type RefreshOutcome<R> =
  | { status: 'completed'; trigger: RefreshTrigger; result: R; durationMs: number }
  | { status: 'failed'; trigger: RefreshTrigger; error: unknown; durationMs: number }

export type Enqueued<R> = {
  status: 'refreshing' | 'queued'
  /** Settles (never rejects) when the refresh covering this request has finished. */
  done: Promise<RefreshOutcome<R>>
}

type Slot<R> = {
  trigger: RefreshTrigger
  done: Promise<RefreshOutcome<R>>
  settle: (outcome: RefreshOutcome<R>) => void
}

export function createRefreshQueue<R>(options: {
  run: (trigger: RefreshTrigger, signal: AbortSignal) => Promise<R>
  onStart?: (trigger: RefreshTrigger) => void
  onFinish?: (outcome: RefreshOutcome<R>) => void
  now?: () => number
}) {
  const now = options.now ?? (() => performance.now())
  const abort = new AbortController()
  let running: Slot<R> | undefined
  let waiting: Slot<R> | undefined
  let closed = false

  function newSlot(trigger: RefreshTrigger): Slot<R> {
    let settle!: (outcome: RefreshOutcome<R>) => void
    const done = new Promise<RefreshOutcome<R>>((resolve) => {
      settle = resolve
    })
    return { trigger, done, settle }
  }

  function start(slot: Slot<R>) {
    running = slot
    const startedAt = now()
    options.onStart?.(slot.trigger)
    const finish = (outcome: RefreshOutcome<R>) => {
      running = undefined
      options.onFinish?.(outcome)
      slot.settle(outcome)
      const next = waiting
      waiting = undefined
      if (next) start(next)
    }
    // Settle asynchronously so callers always get their `enqueue` answer first.
    Promise.resolve()
      .then(() => options.run(slot.trigger, abort.signal))
      .then(
        (result) =>
          finish({
            status: 'completed',
            trigger: slot.trigger,
            result,
            durationMs: now() - startedAt,
          }),
        (error: unknown) =>
          finish({ status: 'failed', trigger: slot.trigger, error, durationMs: now() - startedAt }),
      )
  }

  function enqueue(trigger: RefreshTrigger): Enqueued<R> {
    if (closed) {
      const error = new Error('refresh queue is closed: shutting down')
      return {
        status: 'queued',
        done: Promise.resolve({ status: 'failed', trigger, error, durationMs: 0 }),
      }
    }
    if (!running) {
      const slot = newSlot(trigger)
      start(slot)
      return { status: 'refreshing', done: slot.done }
    }
    // The newest request replaces the waiting one; both are covered by it.
    if (waiting) waiting.trigger = trigger
    else waiting = newSlot(trigger)
    return { status: 'queued', done: waiting.done }
  }

  return {
    enqueue,
    isRunning: () => running !== undefined,
    hasWaiting: () => waiting !== undefined,
    /** Resolves when nothing runs or waits. */
    async idle(): Promise<void> {
      while (running) await running.done
    },
    /** Stops the running git command (it fails as `aborted`) and drops the waiting slot. */
    async close(): Promise<void> {
      closed = true
      const dropped = waiting
      waiting = undefined
      abort.abort()
      dropped?.settle({
        status: 'failed',
        trigger: dropped.trigger,
        error: new Error('refresh queue is closed: shutting down'),
        durationMs: 0,
      })
      await running?.done
    },
  }
}

export type RefreshQueue<R> = ReturnType<typeof createRefreshQueue<R>>
