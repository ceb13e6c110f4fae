import type { StackHealth, StackStatus } from '../../schemas/stack.js'
import { createObserverList } from '../base/index.js'
import type { GitReader } from '../git/index.js'
import type { HostCheck, HostMonitor, ImagePolicy, StackRuntime, WorkTrees } from '../host/index.js'
import type { RefreshObserver, Snapshot, Timers } from '../refresh/index.js'
import { createSyncDecisions } from './decisions.js'
import type { SyncObserver } from './observers.js'
import { createOrderGate } from './order.js'
import type { SyncAnswer } from './outcome.js'
import { createSyncQueue } from './queue.js'
import {
  type DeployRecords,
  type RemovedStack,
  removedStacks,
  type SyncTrigger,
} from './records.js'
import { createSyncRunner } from './runner.js'
import { createSyncStatus } from './status.js'
import type { ChangedFiles, StepsRuntime, SyncOutcome } from './steps.js'
import { type Backoff, createSyncTiming } from './timing.js'

export type { SyncAnswer } from './outcome.js'

// The one owner of applying, in the manner of Flux's kustomize-controller.
// It wires the pieces and owns the order of events, nothing more:
//   host check → decisions.ts (decide.ts: only what Git changed, only what
//     docker-cd owns; self-heal back-off) → queue.ts (up to
//     SYNC_CONCURRENCY runs at a time, in the order stacks declare:
//     order.ts) → runner.ts (steps.ts: validate → pull → up → read back,
//     rollback to the last good tree; outcome.ts: what a finished run
//     changes, built once) → the result: retried with back-off (timing.ts)
//     when the engine failed, else decided about again.
// Every stack's status, reason and health is written in one place
// (status.ts), and what happens is told to the observers (observers.ts:
// event feed, metrics, log), never through a side door.
//
// A run writes its deploy down as in progress before `up`; a deploy found
// in progress at startup was interrupted (docker-cd was killed): it lands
// in the history as `interrupted` and is run again (trigger `recover`)
// through the health gate, rolling back to the recorded good tree if it
// does not pass (decide.ts).
//
// With SYNC_MODE=detect nothing is decided: only manual syncs run, and the
// recovery of a deploy docker-cd itself left half-done.

export type SyncLog = {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  error(details: object, message: string): void
}

export type SyncReconcilerOptions = {
  mode: 'detect' | 'apply'
  selfHeal: boolean
  adopt: boolean
  prune: boolean
  /** IMAGE_UPDATES: the image policy of a service and stack that name none (default `off`). */
  imagePolicy?: ImagePolicy
  /** Cuts secrets out of what containers printed (a failed health check's output). */
  scrub?: (text: string) => string
  /** SYNC_TIMEOUT in seconds (`--wait-timeout`). */
  waitSeconds: number
  /** SYNC_CONCURRENCY: deploys at the same time (default 4; 1 = one at a time, by name). */
  concurrency?: number
  stacksDir: string
  current: () => Snapshot
  monitor: Pick<HostMonitor, 'exclusive' | 'state' | 'idle'>
  workTrees: Pick<WorkTrees, 'ensure' | 'treeRecord'>
  runtime: StepsRuntime & Pick<StackRuntime, 'deployedFrom'>
  records: DeployRecords
  git: Pick<GitReader, 'keepTree' | 'releaseTree'>
  /** The files that differ between two trees of a stack (mounted files, services/host/file-changes.ts). */
  changedFiles: ChangedFiles
  /** The refresh controller's writer: the only way a stack's status, reason and health change. */
  setStatus: (path: string, status: StackStatus, reason: string, health?: StackHealth) => void
  /** Told about every run (event feed, metrics, log). */
  observers?: SyncObserver[]
  onObserverError?: (error: unknown) => void
  /** Decisions and what broke (the observers log the runs). */
  log: SyncLog
  /** Self-heal back-off: the first re-apply at once, then this, doubling, up to `max` (ms). */
  healBackoff?: Backoff
  /** Retry of an engine failure: this, doubling, up to `max` (ms). */
  retryBackoff?: Backoff
  /** On shutdown, how long a running deploy may finish before Compose is stopped. */
  shutdownGraceMs?: number
  now?: () => Date
  timers?: Timers
}

export function createSyncReconciler(options: SyncReconcilerOptions) {
  const now = options.now ?? (() => new Date())
  const { records, monitor } = options
  const { notify } = createObserverList<SyncObserver>(
    options.observers ?? [],
    options.onObserverError,
  )
  const imagePolicy = options.imagePolicy ?? 'off'
  const runner = createSyncRunner({
    ...options,
    imagePolicy,
    steps: options,
    notify,
    onPhase: (path) => status.publish(path),
    warn: (details, message) => options.log.warn(details, message),
    now,
  })
  const status = createSyncStatus({
    ...options,
    activity: runner.activity,
    onChange: () => queue.wake(), // a stack that waits for this one may go now
  })
  const timing = createSyncTiming({
    heal: options.healBackoff ?? { initialMs: 30_000, maxMs: 10 * 60_000 },
    retry: options.retryBackoff ?? { initialMs: 10_000, maxMs: 5 * 60_000 },
    now,
    ...(options.timers ? { timers: options.timers } : {}),
  })
  const orderGate = createOrderGate({
    ...options,
    deploying: (path) => runner.activity(path) !== undefined,
    queued: (path) => queue.isPending(path),
    waitingFor: (path) => status.waitingFor(path),
  })
  const queue = createSyncQueue({
    concurrency: options.concurrency ?? 4,
    firstPicture: () => monitor.idle(),
    blocked(path, trigger) {
      const why = orderGate(path, trigger)
      if (why !== undefined) status.hold(path, why)
      return why
    },
    run,
    takeDown: runner.takeDown,
    onError: (error, stack) => options.log.error({ err: error, stack }, 'sync run broke'),
  })
  /** Settings warnings already logged, per stack and tree. */
  const warned = new Map<string, string>()
  let seenFirst = false
  let closed = false
  const stackOf = (path: string) => options.current().stacks.find((s) => s.path === path)
  const { consider } = createSyncDecisions({
    ...options,
    imagePolicy,
    status,
    timing,
    busy: (path) => closed || runner.activity(path) !== undefined || queue.isPending(path),
    enqueue,
    driftChecked: (event) => notify((o) => o.driftChecked?.(event)),
    log: options.log,
    now,
  })
  runner.noteInterrupted()

  function enqueue(path: string, trigger: SyncTrigger): 'syncing' | 'queued' {
    const answer = queue.enqueue(path, trigger)
    const stack = stackOf(path)
    const treeHash = stack?.treeOid
    if (stack && treeHash) {
      const revision = stack.changedRevision
      const message = queue.waitsFor(path)
      notify((o) => o.runQueued?.({ stack: path, trigger, revision, treeHash, message }))
    }
    return answer
  }

  /** A queued run's turn: the runner deploys; the result decides what comes next. */
  async function run(path: string, trigger: SyncTrigger, answer: (answer: SyncAnswer) => void) {
    status.clear(path)
    const result = await runner.run(path, trigger)
    if (!result) {
      const revision = options.current().revision ?? ''
      answer({
        status: 'failed',
        revision,
        treeHash: '',
        message: `stack ${path} is no longer in Git`,
      })
      return
    }
    if (result.outcome.result === 'completed') timing.succeeded(path)
    else if (result.settled.retry && !closed && options.mode === 'apply')
      retryLater(path, result.settled.finished.treeHash, result.outcome)
    answer(result.settled.answer)
    consider(path)
    status.publish(path)
  }

  /** An engine failure: the same tree is tried again, backing off. */
  function retryLater(path: string, tree: string, outcome: SyncOutcome) {
    const delay = timing.retryLater(path, tree)
    status.wait(path, `${outcome.reason}; retried in ${Math.round(delay / 1000)}s`)
    timing.later(path, delay, () => {
      timing.retryDue(path)
      status.clear(path)
      enqueue(path, 'retry')
    })
  }

  /** Unknown `x-docker-cd` keys: logged once per tree. */
  function warnSettings(path: string, check: HostCheck) {
    const warnings = check.settings?.warnings ?? []
    const tree = stackOf(path)?.treeOid ?? ''
    if (warnings.length === 0 || warned.get(path) === tree) return
    warned.set(path, tree)
    for (const warning of warnings) options.log.warn({ stack: path, tree }, warning)
  }

  const observer: RefreshObserver = {
    refreshFinished(outcome, snapshot) {
      if (outcome.status !== 'completed') return
      const removed = new Set(outcome.changes.removed)
      // The first snapshot of this process: stacks removed while it was not running count too.
      if (!seenFirst) {
        seenFirst = true
        const inGit = new Set(snapshot.stacks.map((stack) => stack.path))
        for (const record of records.all()) if (!inGit.has(record.stack)) removed.add(record.stack)
      }
      for (const path of removed) {
        status.forget(path)
        timing.forget(path)
        const message = `stack ${path} is no longer in Git`
        queue.drop(path, {
          status: 'failed',
          revision: snapshot.revision ?? '',
          treeHash: '',
          message,
        })
        // A stack whose first deploy runs has no project recorded yet: it is
        // taken down after that deploy (the take-down waits for it).
        if (
          options.mode === 'apply' &&
          options.prune &&
          (records.get(path)?.project || queue.isRunning(path))
        )
          queue.takeDown(path)
      }
    },
  }

  return {
    observer,
    /** The host monitor's hook: a new check of a stack. */
    hostChecked(path: string, check: HostCheck) {
      warnSettings(path, check)
      if (!runner.activity(path)) consider(path)
      status.publish(path)
      // A new check may change a declared order (its settings: a cycle broken,
      // a name fixed) without changing what the stack shows: look again.
      queue.wake()
    },
    /** A manual sync (the operator hands the stack over): starts now, or once a slot is free. */
    requestSync(path: string): { status: 'syncing' | 'queued'; done: Promise<SyncAnswer> } {
      const done = queue.nextRun(path)
      return { status: enqueue(path, 'manual'), done }
    },
    /** A stack's deploy record, for its detail. */
    record: (path: string) => records.get(path),
    /** Every deploy record (the notifier's memory of failures across a restart). */
    records: () => records.all(),
    /** Stacks docker-cd deployed that Git no longer has (kept without SYNC_PRUNE, or being taken down). */
    removed: (): RemovedStack[] =>
      removedStacks(records.all(), new Set(options.current().stacks.map((stack) => stack.path)), {
        pruning: options.mode === 'apply' && options.prune,
        takingDown: queue.isTakingDown,
      }),
    /** Resolves when no run is in progress and none waiting could start (tests, benchmarks). */
    idle: (): Promise<void> => queue.idle(),
    /**
     * Shutdown: nothing new starts; running deploys may finish within the
     * grace period, then Compose is stopped (SIGTERM: it ends cleanly) and
     * the runs are recorded as interrupted (tried again after the restart).
     */
    async close() {
      closed = true
      timing.close()
      const message = 'docker-cd is shutting down'
      await queue.close(
        { status: 'failed', revision: '', treeHash: '', message },
        { graceMs: options.shutdownGraceMs ?? 7000, stop: runner.stop },
      )
      await records.flush()
    },
  }
}

export type SyncReconciler = ReturnType<typeof createSyncReconciler>
