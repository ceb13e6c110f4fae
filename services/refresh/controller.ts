import type { RefreshTrigger, RefType } from '../../schemas/refresh.js'
import type { StackHealth, StackStatus } from '../../schemas/stack.js'
import { createObserverList } from '../base/index.js'
import type { RefreshObserver } from './observers.js'
import { buildOutcome, failedOutcome, failureOf, type RefreshOutcome } from './outcome.js'
import { createRefreshPacer, type RefreshRate } from './pacer.js'
import { createRefreshQueue } from './queue.js'
import { createRefreshScheduler, type Timers } from './scheduler.js'
import {
  diffStacks,
  initialSnapshot,
  NO_CHANGES,
  refreshApplied,
  refreshConfirmed,
  refreshFailed,
  refreshStarted,
  type Snapshot,
  type StackStamp,
  stackStatusSet,
} from './snapshot.js'
import type { StackHistory } from './stack-history.js'
import type { RefreshSteps } from './steps.js'

export type { RefreshObserver } from './observers.js'
export type { RefreshOutcome } from './outcome.js'

// The one owner of the refresh lifecycle, in the manner of Flux's
// source-controller: trigger → queue → ordered steps → snapshot → observers
// → scheduler. It is the only writer of the desired state (the snapshot
// variable below is assigned in exactly one function), and every caller gets
// an outcome object rather than reading results back from the state.

type RefreshControllerOptions = {
  runSteps: RefreshSteps
  ref: string
  refType: RefType
  pollIntervalMs: number
  backoffInitialMs?: number
  /** Pace of webhook and manual refresh starts (REFRESH_RATE_LIMIT); null: unpaced. */
  refreshRate?: RefreshRate | null
  observers?: RefreshObserver[]
  /** Where observer failures are reported (they are otherwise swallowed). */
  onObserverError?: (error: unknown) => void
  /** Remembers when stacks last changed across restarts (services/refresh/stack-history.ts). */
  history?: Pick<StackHistory, 'load' | 'save'>
  timers?: Timers
  now?: () => Date
}

export function createRefreshController(options: RefreshControllerOptions) {
  const now = options.now ?? (() => new Date())
  const observers = createObserverList<RefreshObserver>(
    options.observers ?? [],
    options.onObserverError,
  )
  const notify = observers.notify
  let snapshot = initialSnapshot(options.ref, options.refType)
  let last: RefreshOutcome | undefined
  let remembered: ReadonlyMap<string, StackStamp> | undefined
  let historySaved: Promise<void> = Promise.resolve()

  /** The only place the desired state is written. */
  function write(next: Snapshot) {
    snapshot = next
  }

  async function run(trigger: RefreshTrigger, signal: AbortSignal): Promise<RefreshOutcome> {
    const started = now()
    const before = snapshot
    write(refreshStarted(before, trigger))
    notify((o) => o.refreshStarted?.({ trigger, snapshot }))
    const base = {
      trigger,
      previousRevision: before.revision,
      startedAt: started.toISOString(),
    }
    let outcome: RefreshOutcome
    try {
      remembered ??= options.history?.load() ?? new Map()
      // A stamp whose lookup failed is looked up again: not counted as stamped.
      const stamped = new Map(
        [...remembered]
          .filter(([, stamp]) => !stamp.lookupPending)
          .map(([path, stamp]) => [path, stamp.treeOid]),
      )
      const result = await options.runSteps(before, signal, stamped)
      const finished = now()
      if (result.kind === 'unchanged') {
        write(refreshConfirmed(snapshot, trigger, finished))
        outcome = buildOutcome(base, finished, snapshot, {
          status: 'completed',
          message: 'refresh completed: revision unchanged',
          changes: NO_CHANGES,
          hashed: 0,
          steps: result.steps,
          skipped: [],
          warnings: [],
        })
      } else {
        write(refreshApplied(snapshot, result.state, trigger, finished, remembered))
        historySaved = options.history?.save(snapshot) ?? historySaved
        outcome = buildOutcome(base, finished, snapshot, {
          status: 'completed',
          message: 'refresh completed',
          changes: diffStacks(before.stacks, snapshot.stacks),
          hashed: result.hashed,
          steps: result.steps,
          skipped: result.skipped,
          warnings: result.warnings,
        })
      }
    } catch (error) {
      const reason = failureOf(error)
      write(refreshFailed(snapshot, trigger, reason.message))
      outcome = failedOutcome(base, now(), snapshot, reason)
    }
    last = outcome
    notify((o) => o.refreshFinished?.(outcome, snapshot))
    scheduler.refreshFinished(outcome.status === 'completed')
    return outcome
  }

  const queue = createRefreshQueue<RefreshOutcome>({
    run,
    pacer: createRefreshPacer(options.refreshRate ?? null),
    // A request the queue could not run (closed for shutdown), or a run that
    // broke (a bug): the waiter still gets an answer, and nothing is written.
    failed(trigger, error) {
      const at = now()
      return failedOutcome(
        { trigger, previousRevision: snapshot.revision, startedAt: at.toISOString() },
        at,
        snapshot,
        failureOf(error),
      )
    },
  })

  const scheduler = createRefreshScheduler({
    intervalMs: options.pollIntervalMs,
    backoffInitialMs: options.backoffInitialMs,
    timers: options.timers,
    enqueue: (trigger) => queue.enqueue(trigger),
  })

  return {
    /** The current desired state; immutable, replaced whole by each transition. */
    current: (): Snapshot => snapshot,
    /** True once a first snapshot exists (readiness). */
    isReady: () => snapshot.revision !== null,
    /** The outcome of the last finished refresh. */
    lastOutcome: () => last,
    /** Asks for a refresh: it starts now (`refreshing`) or waits in the one slot (`queued`). */
    refresh: (trigger: RefreshTrigger) => queue.enqueue(trigger),
    /**
     * Adds an observer. One that arrives after a refresh finished (the app's
     * metrics, built while the startup refresh already ran) is told about
     * that last refresh at once, so nothing is missed.
     */
    observe(observer: RefreshObserver) {
      observers.add(observer)
      const finished = last
      if (finished) notify((o) => o.refreshFinished?.(finished, snapshot), observer)
    },
    /** The startup refresh; polling starts when it finishes, whatever its outcome. */
    start: () => queue.enqueue('startup').done,
    /**
     * For the reconciler: one stack's status, with its reason and health
     * (missing → syncing → synced / deleting). A change of any of the three
     * is written and told (`from` equals `to` when only the reason or the
     * health changed); the same three again are not.
     */
    setStackStatus(
      path: string,
      status: StackStatus,
      reason?: string,
      health?: StackHealth,
    ): boolean {
      const stack = snapshot.stacks.find((s) => s.path === path)
      if (stack === undefined) return false
      const from = stack.status
      // An empty reason is no reason (the snapshot leaves it out).
      if (from === status && stack.health === health && (stack.reason ?? '') === (reason ?? ''))
        return true
      const next = stackStatusSet(snapshot, path, status, reason, health)
      if (!next) return false
      write(next)
      notify((o) =>
        o.stackStatusChanged?.({
          path,
          from,
          to: status,
          ...(reason ? { reason } : {}),
          ...(health ? { health } : {}),
        }),
      )
      return true
    },
    /** Stops polling, aborts the running git command, fails the waiting request, flushes the history. */
    async close() {
      scheduler.stop()
      await queue.close()
      await historySaved
    },
  }
}
