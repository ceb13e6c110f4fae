import type { SyncAnswer } from './outcome.js'
import type { SyncTrigger } from './records.js'

// The sync queue: which stacks wait for a run (one entry per stack, the
// trigger that asked — a manual request wins), who waits for a stack's
// next run, and up to `concurrency` runs at a time (SYNC_CONCURRENCY).
// Stacks removed from Git are taken down first (they free their project
// names), deploys after. Among waiting stacks the queue starts those whose
// declared order allows it (`blocked`, services/sync/order.ts), in name
// order; nothing implies an order between stacks that declare none. The
// first run waits for the host's first full picture, so that every stack's
// state (and declared order) is known before anything starts.
//
// The queue only orders work: the reconciler decides what is queued and
// runs it.

export type SyncQueueOptions = {
  concurrency: number
  /** Resolves when the host's first picture is complete (the monitor's first idle). */
  firstPicture: () => Promise<void>
  /** Why a waiting stack may not start yet (its declared order), or undefined. */
  blocked: (stack: string, trigger: SyncTrigger) => string | undefined
  run: (stack: string, trigger: SyncTrigger, answer: (answer: SyncAnswer) => void) => Promise<void>
  takeDown: (stack: string) => Promise<void>
  /** A run that threw (a bug): reported, the queue goes on. */
  onError: (error: unknown, stack: string) => void
}

export function createSyncQueue(options: SyncQueueOptions) {
  /** Stacks waiting for their run, by the trigger that asked. */
  const pending = new Map<string, SyncTrigger>()
  /** Removed stacks waiting to be taken down. */
  const prunes = new Set<string>()
  /** Who waits for the next run of a stack (manual syncs with ?wait=true). */
  const waiters = new Map<string, ((answer: SyncAnswer) => void)[]>()
  /** Stacks with a run (or take-down) in progress, and its promise. */
  const running = new Map<string, Promise<void>>()
  const takingDown = new Set<string>()
  /** Waiting stacks the last pump found blocked by their declared order. */
  const held = new Set<string>()
  const idleWaiters: (() => void)[] = []
  let gate: 'closed' | 'opening' | 'open' = 'closed'
  let woken = false
  let closed = false
  /** What close() answered: a waiter that comes later gets it at once, never hangs. */
  let closedAnswer: SyncAnswer | undefined

  const full = () => running.size >= options.concurrency
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  /** Deploys wait while a removed stack is taken down (it frees its project name first). */
  const takeDowns = () => [...new Set([...takingDown, ...prunes])].sort(byName)

  function start(stack: string, job: () => Promise<void>) {
    const done = Promise.resolve()
      .then(job)
      .catch((error) => options.onError(error, stack))
      .finally(() => {
        running.delete(stack)
        takingDown.delete(stack)
        pump()
      })
    running.set(stack, done)
  }

  /** Starts what may start now. */
  function pump() {
    woken = false
    if (closed) return
    if (gate !== 'open') {
      if (gate === 'closed') {
        gate = 'opening'
        void options.firstPicture().then(() => {
          gate = 'open'
          pump()
        })
      }
      return
    }
    for (const stack of [...prunes].sort(byName)) {
      if (full()) break
      if (running.has(stack)) continue
      prunes.delete(stack)
      takingDown.add(stack)
      start(stack, () => options.takeDown(stack))
    }
    held.clear()
    if (prunes.size === 0 && takingDown.size === 0)
      for (const stack of [...pending.keys()].sort(byName)) {
        if (full()) break
        const trigger = pending.get(stack) as SyncTrigger
        if (running.has(stack)) continue
        if (options.blocked(stack, trigger) !== undefined) {
          held.add(stack)
          continue
        }
        pending.delete(stack)
        const answer = takeWaiters(stack)
        start(stack, () => options.run(stack, trigger, answer))
      }
    settleIdle()
  }

  /** Pumps soon (once per turn of the event loop, however many ask). */
  function wake() {
    if (woken || closed) return
    woken = true
    queueMicrotask(pump)
  }

  const isIdle = () =>
    running.size === 0 && prunes.size === 0 && [...pending.keys()].every((s) => held.has(s))

  function settleIdle() {
    if (isIdle()) for (const resolve of idleWaiters.splice(0)) resolve()
  }

  /** Takes the waiters of a stack's next run (the one starting now). */
  function takeWaiters(stack: string) {
    const taken = waiters.get(stack) ?? []
    waiters.delete(stack)
    return (answer: SyncAnswer) => {
      for (const resolve of taken) resolve(answer)
    }
  }

  return {
    /** Queues a run of the stack; answers whether it starts now (`syncing`) or waits (`queued`). */
    enqueue(stack: string, trigger: SyncTrigger): 'syncing' | 'queued' {
      if (closed) return 'queued'
      if (pending.get(stack) !== 'manual') pending.set(stack, trigger)
      held.delete(stack)
      wake()
      return running.has(stack) ||
        full() ||
        takeDowns().length > 0 ||
        options.blocked(stack, trigger) !== undefined
        ? 'queued'
        : 'syncing'
    },
    /** Why a queued stack waits, in words ('starting' when it does not). */
    waitsFor(stack: string): string {
      if (running.has(stack)) return `waiting for the running sync of ${stack} to finish`
      const downs = takeDowns()
      if (downs.length > 0)
        return `waiting for the take-down of ${downs.join(', ')} (removed from Git) to finish`
      if (full())
        return `waiting for a free deploy slot (SYNC_CONCURRENCY=${options.concurrency}: ${[...running.keys()].sort(byName).join(', ')} running)`
      return options.blocked(stack, pending.get(stack) ?? 'git') ?? 'starting'
    },
    /** The next run of the stack answers this promise. */
    nextRun(stack: string): Promise<SyncAnswer> {
      if (closedAnswer) return Promise.resolve(closedAnswer)
      return new Promise<SyncAnswer>((resolve) =>
        waiters.set(stack, [...(waiters.get(stack) ?? []), resolve]),
      )
    },
    /** A stack removed from Git: to be taken down. */
    takeDown(stack: string) {
      prunes.add(stack)
      wake()
    },
    /** A stack left Git: its waiting run is dropped, whoever waits for it is answered. */
    drop(stack: string, answer: SyncAnswer) {
      pending.delete(stack)
      held.delete(stack)
      takeWaiters(stack)(answer)
      wake()
    },
    /** Something a declared order waits on changed: look again. */
    wake,
    isPending: (stack: string) => pending.has(stack),
    isRunning: (stack: string) => running.has(stack),
    isTakingDown: (stack: string) => takingDown.has(stack) || prunes.has(stack),
    /** Resolves when nothing runs and nothing waiting could start. */
    idle: (): Promise<void> =>
      isIdle() ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)),
    /**
     * Nothing new starts; waiting runs are answered with `answer`; the
     * running ones may finish within `shutdown.graceMs`, then
     * `shutdown.stop` is called; resolves when they have ended.
     */
    async close(answer: SyncAnswer, shutdown?: { graceMs: number; stop: () => void }) {
      closed = true
      closedAnswer = answer
      for (const stack of [...pending.keys(), ...waiters.keys()]) takeWaiters(stack)(answer)
      pending.clear()
      prunes.clear()
      held.clear()
      const ended = Promise.all(running.values())
      if (shutdown) {
        let timer: NodeJS.Timeout | undefined
        const grace = new Promise<'grace'>((resolve) => {
          timer = setTimeout(() => resolve('grace'), shutdown.graceMs)
        })
        if ((await Promise.race([ended.then(() => 'ended' as const), grace])) === 'grace')
          shutdown.stop()
        clearTimeout(timer)
      }
      await ended
      for (const resolve of idleWaiters.splice(0)) resolve()
    },
  }
}

export type SyncQueue = ReturnType<typeof createSyncQueue>
