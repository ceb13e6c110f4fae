import type { RefreshTrigger } from '../../schemas/refresh.js'
import type { RefreshPacer } from './pacer.js'

// One refresh at a time, plus one waiting slot that newer requests replace.
// Every request gets a promise for the refresh that covers it. A request that
// arrives while a refresh runs is covered by the next one, not the running
// one: the running one may already have fetched, before the request arrived.
//
// Starts may be paced (pacer.ts): a request whose start must wait for the
// pacer waits in the same slot, answered `queued`, and newer requests join it.
//
// The queue only orders work. `run` produces the outcome a waiter gets;
// `failed` turns anything `run` throws (or a closed queue) into one, so a
// waiter is always answered.

type Enqueued<O> = {
  status: 'refreshing' | 'queued'
  /** Settles (never rejects) when the refresh covering this request has finished. */
  done: Promise<O>
}

/** What a request gets when the queue is closed (shutdown) before its refresh ran. */
export class QueueClosedError extends Error {
  constructor() {
    super('refresh queue is closed: shutting down')
    this.name = 'QueueClosedError'
  }
}

type Slot<O> = {
  trigger: RefreshTrigger
  done: Promise<O>
  settle: (outcome: O) => void
}

export function createRefreshQueue<O>(options: {
  run: (trigger: RefreshTrigger, signal: AbortSignal) => Promise<O>
  failed: (trigger: RefreshTrigger, error: unknown) => O
  /** Paces starts (webhook, manual); none: every start is immediate. */
  pacer?: RefreshPacer
}) {
  const abort = new AbortController()
  let running: Slot<O> | undefined
  let waiting: Slot<O> | undefined
  /** Set while the waiting slot waits for the pacer, not for a running refresh. */
  let paceTimer: NodeJS.Timeout | undefined
  let closed = false

  function newSlot(trigger: RefreshTrigger): Slot<O> {
    let settle!: (outcome: O) => void
    const done = new Promise<O>((resolve) => {
      settle = resolve
    })
    return { trigger, done, settle }
  }

  function settleSafely(slot: Slot<O>, produce: () => O) {
    try {
      slot.settle(produce())
    } catch (error) {
      slot.settle(options.failed(slot.trigger, error))
    }
  }

  function start(slot: Slot<O>) {
    running = slot
    // Run asynchronously so callers always get their `enqueue` answer first.
    Promise.resolve()
      .then(() => options.run(slot.trigger, abort.signal))
      .then(
        (outcome) => finish(slot, () => outcome),
        (error: unknown) => finish(slot, () => options.failed(slot.trigger, error)),
      )
  }

  /** Starts the slot now, or parks it as the waiting slot until the pacer allows it. */
  function startWhenAllowed(slot: Slot<O>) {
    const delay = options.pacer?.delayFor(slot.trigger) ?? 0
    if (delay === 0) {
      if (waiting === slot) waiting = undefined
      start(slot)
      return
    }
    waiting = slot
    paceTimer = setTimeout(startWaiting, delay)
    paceTimer.unref()
  }

  /** The waiting slot's turn: nothing runs (a refresh finished, or the pacer's delay passed). */
  function startWaiting() {
    clearTimeout(paceTimer)
    paceTimer = undefined
    const next = waiting
    if (next && !running && !closed) startWhenAllowed(next)
  }

  /** Frees the queue, answers the slot's waiters, starts the waiting slot. */
  function finish(slot: Slot<O>, produce: () => O) {
    running = undefined
    settleSafely(slot, produce)
    startWaiting()
  }

  function enqueue(trigger: RefreshTrigger): Enqueued<O> {
    if (closed) {
      return {
        status: 'queued',
        done: Promise.resolve(options.failed(trigger, new QueueClosedError())),
      }
    }
    if (!running && !waiting) {
      const slot = newSlot(trigger)
      startWhenAllowed(slot)
      return { status: running === slot ? 'refreshing' : 'queued', done: slot.done }
    }
    // The newest request replaces the waiting one; both are covered by it.
    if (waiting) waiting.trigger = trigger
    else waiting = newSlot(trigger)
    const slot = waiting
    // Waiting only for the pacer, and this trigger is not paced: go now.
    if (paceTimer && (options.pacer?.delayFor(trigger) ?? 0) === 0) {
      clearTimeout(paceTimer)
      paceTimer = undefined
      waiting = undefined
      start(slot)
      return { status: 'refreshing', done: slot.done }
    }
    return { status: 'queued', done: slot.done }
  }

  return {
    enqueue,
    isRunning: () => running !== undefined,
    hasWaiting: () => waiting !== undefined,
    /** Resolves when nothing runs or waits. */
    async idle(): Promise<void> {
      for (let slot = running ?? waiting; slot; slot = running ?? waiting) await slot.done
    },
    /** Stops the running refresh (its git command fails as `aborted`) and fails the waiting one. */
    async close(): Promise<void> {
      closed = true
      clearTimeout(paceTimer)
      paceTimer = undefined
      const dropped = waiting
      waiting = undefined
      abort.abort()
      if (dropped) {
        settleSafely(dropped, () => options.failed(dropped.trigger, new QueueClosedError()))
      }
      await running?.done
    },
  }
}
