import type { RefreshTrigger, RefType } from '../schemas/refresh.js'
import type { StackStatus } from '../schemas/stack.js'
import { GitError, type GitErrorCode } from './git-command.js'
import { createRefreshQueue, QueueClosedError } from './refresh-queue.js'
import { createRefreshScheduler, type Timers } from './refresh-scheduler.js'
import type { RefreshStep, RefreshSteps } from './refresh-steps.js'
import {
  diffStacks,
  initialSnapshot,
  NO_CHANGES,
  refreshApplied,
  refreshConfirmed,
  refreshFailed,
  refreshStarted,
  type Snapshot,
  type StackChanges,
  type StackStamp,
  stackStatusSet,
} from './snapshot.js'
import type { StackHistory } from './stack-history.js'

// The one owner of the refresh lifecycle, in the manner of Flux's
// source-controller: trigger → queue → ordered steps → snapshot → observers
// → scheduler. It is the only writer of the desired state (the snapshot
// variable below is assigned in exactly one function), and every caller gets
// an outcome object rather than reading results back from the state.

type RefreshFailureReason = GitErrorCode | 'internal'

export type RefreshOutcome = Readonly<{
  status: 'completed' | 'failed'
  trigger: RefreshTrigger
  /** The revision the cache reflects after this refresh (the old one when it failed). */
  revision: string | null
  previousRevision: string | null
  message: string
  /** Why it failed, with a category operators act on; only when failed. */
  error?: Readonly<{ reason: RefreshFailureReason; message: string }>
  startedAt: string
  finishedAt: string
  durationMs: number
  changes: StackChanges
  stackCount: number
  /** Compose files read and hashed by this refresh. */
  hashed: number
  /** The named steps that ran, in order (see refresh-steps.ts). */
  steps: readonly RefreshStep[]
  /** Directories not taken as stacks: names not valid UTF-8, escaped (`\xff`). */
  skipped: readonly string[]
  /** Trouble that did not fail the refresh (mirror maintenance). */
  warnings: readonly string[]
}>

/** Told about every refresh; a throwing observer is reported, never allowed to stall a waiter. */
export type RefreshObserver = {
  refreshStarted?(event: { trigger: RefreshTrigger; snapshot: Snapshot }): void
  refreshFinished?(outcome: RefreshOutcome, snapshot: Snapshot): void
  stackStatusChanged?(event: { path: string; from: StackStatus; to: StackStatus }): void
}

type RefreshControllerOptions = {
  runSteps: RefreshSteps
  ref: string
  refType: RefType
  pollIntervalMs: number
  backoffInitialMs?: number
  observers?: RefreshObserver[]
  /** Where observer failures are reported (they are otherwise swallowed). */
  onObserverError?: (error: unknown) => void
  /** Remembers when stacks last changed across restarts (services/stack-history.ts). */
  history?: Pick<StackHistory, 'load' | 'save'>
  timers?: Timers
  now?: () => Date
}

export function createRefreshController(options: RefreshControllerOptions) {
  const now = options.now ?? (() => new Date())
  const observers = [...(options.observers ?? [])]
  let snapshot = initialSnapshot(options.ref, options.refType)
  let last: RefreshOutcome | undefined
  let remembered: ReadonlyMap<string, StackStamp> | undefined
  let historySaved: Promise<void> = Promise.resolve()

  /** The only place the desired state is written. */
  function write(next: Snapshot) {
    snapshot = next
  }

  function notify(call: (observer: RefreshObserver) => void) {
    for (const observer of observers) {
      try {
        call(observer)
      } catch (error) {
        try {
          options.onObserverError?.(error)
        } catch {
          // A broken error sink must not break the lifecycle either.
        }
      }
    }
  }

  function failure(error: unknown): { reason: RefreshFailureReason; message: string } {
    if (error instanceof GitError) return { reason: error.code, message: error.message }
    if (error instanceof QueueClosedError)
      return { reason: 'aborted', message: `aborted: ${error.message}` }
    // Not from git, so it carries no secret; a bug or an abort outside git.
    const text = error instanceof Error ? error.message : String(error)
    return { reason: 'internal', message: `internal: ${text}` }
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
      const result = await options.runSteps(before, signal)
      const finished = now()
      if (result.kind === 'unchanged') {
        write(refreshConfirmed(snapshot, trigger, finished))
        outcome = finish(base, finished, {
          status: 'completed',
          message: 'refresh completed: revision unchanged',
          changes: NO_CHANGES,
          hashed: 0,
          steps: result.steps,
          skipped: [],
          warnings: [],
        })
      } else {
        remembered ??= options.history?.load() ?? new Map()
        write(refreshApplied(snapshot, result.state, trigger, finished, remembered))
        historySaved = options.history?.save(snapshot) ?? historySaved
        outcome = finish(base, finished, {
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
      const reason = failure(error)
      write(refreshFailed(snapshot, trigger, reason.message))
      outcome = failedOutcome(base, now(), reason)
    }
    last = outcome
    notify((o) => o.refreshFinished?.(outcome, snapshot))
    scheduler.refreshFinished(outcome.status === 'completed')
    return outcome
  }

  function finish(
    base: Pick<RefreshOutcome, 'trigger' | 'previousRevision' | 'startedAt'>,
    finished: Date,
    rest: Pick<
      RefreshOutcome,
      'status' | 'message' | 'error' | 'changes' | 'hashed' | 'steps' | 'skipped' | 'warnings'
    >,
  ): RefreshOutcome {
    const outcome = {
      ...base,
      ...rest,
      revision: snapshot.revision,
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - Date.parse(base.startedAt),
      stackCount: snapshot.stacks.length,
    }
    if (outcome.error === undefined) delete outcome.error
    return Object.freeze(outcome)
  }

  function failedOutcome(
    base: Pick<RefreshOutcome, 'trigger' | 'previousRevision' | 'startedAt'>,
    finished: Date,
    reason: { reason: RefreshFailureReason; message: string },
  ): RefreshOutcome {
    return finish(base, finished, {
      status: 'failed',
      message: reason.message,
      error: reason,
      changes: NO_CHANGES,
      hashed: 0,
      steps: [],
      skipped: [],
      warnings: [],
    })
  }

  const queue = createRefreshQueue<RefreshOutcome>({
    run,
    // A request the queue could not run (closed for shutdown), or a run that
    // broke (a bug): the waiter still gets an answer, and nothing is written.
    failed(trigger, error) {
      const at = now()
      return failedOutcome(
        { trigger, previousRevision: snapshot.revision, startedAt: at.toISOString() },
        at,
        failure(error),
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
      observers.push(observer)
      const finished = last
      if (finished)
        notify((o) => (o === observer ? o.refreshFinished?.(finished, snapshot) : undefined))
    },
    /** The startup refresh; polling starts when it finishes, whatever its outcome. */
    start: () => queue.enqueue('startup').done,
    /** For the reconciler: move one stack through missing → syncing → synced / deleting. */
    setStackStatus(path: string, status: StackStatus): boolean {
      const from = snapshot.stacks.find((stack) => stack.path === path)?.status
      const next = stackStatusSet(snapshot, path, status)
      if (!next || from === undefined) return false
      write(next)
      if (from !== status) notify((o) => o.stackStatusChanged?.({ path, from, to: status }))
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
