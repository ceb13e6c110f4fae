import { join } from 'node:path'
import type { StackHealth, StackStatus } from '../../schemas/stack.js'
import { createObserverList } from '../base/index.js'
import type { GitReader } from '../git/index.js'
import type { HostCheck, HostMonitor, StackRuntime, WorkTrees } from '../host/index.js'
import type { RefreshObserver, Snapshot, Timers } from '../refresh/index.js'
import { type Activity, decide, ownerOf, short, statusOf } from './decide.js'
import type { SyncObserver, SyncRunRef } from './observers.js'
import { type DependencyState, orderBlock } from './order.js'
import {
  interruptedRunFinished,
  type RunStart,
  type SettledRun,
  type SyncAnswer,
  settleRun,
} from './outcome.js'
import { createSyncQueue } from './queue.js'
import {
  type DeployRecords,
  type SyncTrigger,
  type TreeRef,
  withInterruptedRun,
} from './records.js'
import { createSyncSteps, type SyncOutcome, type SyncPhase } from './steps.js'
import { type Backoff, createSyncTiming } from './timing.js'

export type { SyncAnswer } from './outcome.js'

// The one owner of applying, in the manner of Flux's kustomize-controller:
// host checks (services/host/monitor.ts) come in, a decision is taken per
// stack (decide.ts: only what Git changed, only what docker-cd owns), and
// the queue (queue.ts) runs deploys — up to SYNC_CONCURRENCY at a time, in
// the order stacks declare (order.ts), a failure of one never stopping the
// others — as named steps in the stack's work tree (steps.ts: validate →
// pull → up → read back, rollback to the last good tree). Timing (self-heal
// and engine-retry back-off) is timing.ts; what a finished run changes is
// built once in outcome.ts. This file decides and publishes: every stack's
// status, reason and health is written in exactly one place (publish), and
// what happens is told to the observers (observers.ts: event feed, metrics,
// log), never through a side door.
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

/** A stack docker-cd deployed that Git no longer has. */
export type RemovedStack = {
  stack: string
  project?: string
  status: 'deleting' | 'kept'
  reason: string
}

export type SyncReconcilerOptions = {
  mode: 'detect' | 'apply'
  selfHeal: boolean
  adopt: boolean
  prune: boolean
  /** SYNC_TIMEOUT in seconds (`--wait-timeout`). */
  waitSeconds: number
  /** SYNC_CONCURRENCY: deploys at the same time (default 4; 1 = one at a time, by name). */
  concurrency?: number
  stacksDir: string
  current: () => Snapshot
  monitor: Pick<HostMonitor, 'exclusive' | 'state' | 'idle'>
  workTrees: Pick<WorkTrees, 'ensure' | 'treeRecord'>
  runtime: Pick<
    StackRuntime,
    | 'validate'
    | 'model'
    | 'imagesToPull'
    | 'pull'
    | 'apply'
    | 'inspect'
    | 'ping'
    | 'takeDown'
    | 'deployedFrom'
  >
  records: DeployRecords
  git: Pick<GitReader, 'keepTree' | 'releaseTree'>
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
  const workTreeOf = (path: string) => join(options.stacksDir, path)
  const observers = createObserverList<SyncObserver>(
    options.observers ?? [],
    options.onObserverError,
  )
  const notify = observers.notify
  const stop = new AbortController()
  const steps = createSyncSteps({ ...options, signal: stop.signal })
  const timing = createSyncTiming({
    heal: options.healBackoff ?? { initialMs: 30_000, maxMs: 10 * 60_000 },
    retry: options.retryBackoff ?? { initialMs: 10_000, maxMs: 5 * 60_000 },
    now,
    ...(options.timers ? { timers: options.timers } : {}),
  })
  const queue = createSyncQueue({
    concurrency: options.concurrency ?? 4,
    firstPicture: () => monitor.idle(),
    blocked: heldBack,
    run,
    takeDown,
    onError: (error, stack) => options.log.error({ err: error, stack }, 'sync run broke'),
  })
  /** Runs in progress, by stack: their phase shows in the status. */
  const activities = new Map<string, Activity>()
  /** Why nothing is done about a stack (a decision, a back-off, its declared order), shown with its status. */
  const waiting = new Map<string, string>()
  /** What was last published per stack: a change wakes the stacks that wait on it. */
  const published = new Map<string, string>()
  /** Settings warnings already logged, per stack and tree. */
  const warned = new Map<string, string>()
  let seenFirst = false
  let closed = false

  const stackOf = (path: string) => options.current().stacks.find((s) => s.path === path)
  const revisionNow = () => options.current().revision ?? ''

  // Deploys a killed docker-cd left in progress: into the history at once,
  // with why (the recovery run follows each stack's first host check).
  for (const record of records.all())
    if (record.inProgress && !record.inProgress.noted) {
      options.log.warn(
        { stack: record.stack, toTree: record.inProgress.toTree },
        'found a deploy interrupted by a stop of docker-cd',
      )
      void records.set(record.stack, (r) => withInterruptedRun(r, now()))
      const run = records.get(record.stack)?.history[0]
      if (run) notify((o) => o.runFinished?.(interruptedRunFinished(record.stack, run)))
    }

  /** The only place a stack's status is written while the reconciler runs. */
  function publish(path: string) {
    const stack = stackOf(path)
    if (!stack) return
    const status = statusOf({
      tree: stack.treeOid,
      check: monitor.state(path),
      record: records.get(path),
      activity: activities.get(path),
      ...(waiting.has(path) ? { waiting: waiting.get(path) } : {}),
    })
    if (!status) return
    options.setStatus(path, status.status, status.reason, status.health)
    const key = `${status.status}\0${status.health}\0${status.reason}`
    if (published.get(path) === key) return
    published.set(path, key)
    queue.wake() // a stack that waits for this one may go now
  }

  /** Apply mode: what to do about a stack after its host check. */
  function consider(path: string) {
    if (closed || activities.has(path) || queue.isPending(path)) return
    const stack = stackOf(path)
    const check = monitor.state(path)
    if (!stack || !check) return
    if (timing.waitsForRetry(path, stack.treeOid)) return
    const record = records.get(path)
    // SYNC_MODE=detect decides nothing, except finishing a deploy docker-cd itself left half-done.
    if (options.mode !== 'apply' && record?.inProgress?.toTree !== stack.treeOid) return
    const decision = decide({
      tree: stack.treeOid,
      check,
      record,
      owner: ownerOf(record, options.runtime.deployedFrom(check, workTreeOf(path))),
      selfHeal: options.selfHeal,
      adopt: options.adopt,
    })
    if (decision.action === 'wait') {
      if (options.mode === 'apply') waiting.set(path, decision.why)
      return
    }
    if (options.mode !== 'apply' && decision.action === 'deploy' && decision.trigger !== 'recover')
      return
    waiting.delete(path)
    if (decision.action === 'record') {
      void noteDeployed(path, stack.treeOid, check)
      return
    }
    if (decision.trigger === 'self-heal') {
      const blocked = timing.healBlocked(path)
      if (blocked) {
        waiting.set(
          path,
          `${decision.why}; self-heal backs off until ${blocked.until.toISOString()} (${blocked.count} re-apply${blocked.count === 1 ? '' : 's'} in the last hour)`,
        )
        timing.later(path, blocked.until.getTime() - now().getTime() + 10, () => {
          waiting.delete(path)
          consider(path)
          publish(path)
        })
        return
      }
      timing.healed(path)
    }
    options.log.info(
      { stack: path, trigger: decision.trigger, reason: decision.why },
      'sync queued',
    )
    enqueue(path, decision.trigger)
  }

  /** The host already runs this tree from docker-cd's work tree: the record says so now. */
  async function noteDeployed(path: string, tree: string, check: HostCheck) {
    const revision = revisionNow()
    // Only the deployed tree is said; no earlier run's result, error or rollback stays beside it.
    await records.set(path, (record) => {
      const { error: _e, rolledBackTo: _r, failedTreeHash: _f, ...rest } = record
      return {
        ...rest,
        ...(check.project ? { project: check.project } : {}),
        deployedTreeHash: tree,
        deployedRevision: revision,
        deployedAt: now().toISOString(),
        lastResult: 'completed',
      }
    })
    await options.git.keepTree(path, tree).catch(() => {})
    publish(path) // a stack that waits for this one may go now
  }

  function enqueue(path: string, trigger: SyncTrigger): 'syncing' | 'queued' {
    const answer = queue.enqueue(path, trigger)
    const stack = stackOf(path)
    if (stack)
      notify((o) =>
        o.runQueued?.({
          stack: path,
          trigger,
          revision: revisionNow(),
          treeHash: stack.treeOid,
          message: queue.waitsFor(path),
        }),
      )
    return answer
  }

  /** Why a queued stack may not start yet: its settings, its declared order (a manual sync is not held). */
  function heldBack(path: string, trigger: SyncTrigger): string | undefined {
    if (trigger === 'manual') return undefined
    const settings = monitor.state(path)?.settings
    const why = settings?.problems.length
      ? `not deployed: ${settings.problems.join('; ')}`
      : orderBlock(path, {
          stacks: new Set(options.current().stacks.map((stack) => stack.path)),
          dependsOn: (stack) => monitor.state(stack)?.settings?.dependsOn ?? [],
          state: dependencyState,
        })
    if (why !== undefined && waiting.get(path) !== why) {
      waiting.set(path, why)
      publish(path)
    }
    return why
  }

  /** How a stack stands for the stacks that declare they need it. */
  function dependencyState(path: string): DependencyState {
    const stack = stackOf(path)
    const check = monitor.state(path)
    const record = records.get(path)
    if (!stack) return { kind: 'waiting', why: 'not in Git' }
    if (record?.failedTreeHash === stack.treeOid && record.lastResult === 'failed')
      return { kind: 'failed', why: `failed to deploy tree ${short(stack.treeOid)}` }
    if (check?.status === 'failed') return { kind: 'failed', why: `is failed: ${check.reason}` }
    if (activities.has(path)) return { kind: 'waiting', why: 'deploying' }
    if (queue.isPending(path)) return { kind: 'waiting', why: 'queued to deploy' }
    if (!check) return { kind: 'waiting', why: 'not checked yet' }
    if (record?.deployedTreeHash !== stack.treeOid)
      return {
        kind: 'waiting',
        why: `its tree ${short(stack.treeOid)} is not deployed by docker-cd yet: ${check.reason}`,
      }
    if (check.status !== 'synced')
      return { kind: 'waiting', why: `${check.status}: ${check.reason}` }
    if (check.health !== 'healthy')
      return { kind: 'waiting', why: `synced, ${check.health ?? 'health unknown'}` }
    return { kind: 'ready' }
  }

  async function run(path: string, trigger: SyncTrigger, answer: (answer: SyncAnswer) => void) {
    const stack = stackOf(path)
    const revision = revisionNow()
    if (!stack) {
      answer({
        status: 'failed',
        revision,
        treeHash: '',
        message: `stack ${path} is no longer in Git`,
      })
      return
    }
    const tree = stack.treeOid
    const before = records.get(path)
    // The good tree to return to: the one recorded when an interrupted deploy started, else the deployed one.
    const rollbackTo: TreeRef | undefined =
      before?.inProgress?.previous ??
      (before?.deployedTreeHash
        ? { revision: before.deployedRevision ?? '', treeHash: before.deployedTreeHash }
        : undefined)
    const start: RunStart = {
      stack: path,
      trigger,
      revision,
      tree,
      startedAt: now(),
      ...(rollbackTo ? { rollbackTo } : {}),
    }
    const ref: SyncRunRef = { stack: path, trigger, revision, treeHash: tree }
    const activity: Activity = { phase: 'validate', tree, revision, trigger }
    activities.set(path, activity)
    waiting.delete(path)
    notify((o) =>
      o.runStarted?.({ ...ref, ...(rollbackTo ? { fromTree: rollbackTo.treeHash } : {}) }),
    )
    const phase = (name: SyncPhase, message: string) => {
      activity.phase = name
      notify((o) => o.phase?.({ ...ref, phase: name, message }))
      publish(path)
    }
    const checkBefore = monitor.state(path)
    const { result } = await monitor.exclusive(path, async () => {
      const outcome = await steps.run({
        path,
        tree,
        rollbackTo,
        checkBefore,
        phase,
        beforeUp: () => writeInProgress(start),
      })
      // Written before the stack is read back, so the check that follows sees it.
      let settled: SettledRun | undefined
      await records.set(path, (current) => {
        settled = settleRun(start, outcome, now(), current)
        return settled.record
      })
      if (outcome.result === 'completed')
        await options.git
          .keepTree(path, tree)
          .catch((error) =>
            options.log.warn({ err: error, stack: path }, 'could not keep the deployed tree'),
          )
      return { outcome, settled: settled as SettledRun }
    })
    activities.delete(path)
    notify((o) => o.runFinished?.(result.settled.finished))
    if (result.outcome.result === 'completed') timing.succeeded(path)
    else if (result.settled.retry && !closed && options.mode === 'apply')
      retryLater(path, tree, result.outcome)
    answer(result.settled.answer)
    consider(path)
    publish(path)
  }

  /** The deploy is written down before `up` changes the host (on disk: a kill during `up` must leave the rollback target). */
  function writeInProgress(start: RunStart) {
    return records.set(
      start.stack,
      (record) => ({
        ...record,
        inProgress: {
          toTree: start.tree,
          revision: start.revision,
          ...(start.rollbackTo ? { previous: start.rollbackTo } : {}),
          startedAt: start.startedAt.toISOString(),
          trigger: start.trigger,
        },
      }),
      { durable: true },
    )
  }

  /** An engine failure: the same tree is tried again, backing off. */
  function retryLater(path: string, tree: string, outcome: SyncOutcome) {
    const delay = timing.retryLater(path, tree)
    waiting.set(path, `${outcome.reason}; retried in ${Math.round(delay / 1000)}s`)
    timing.later(path, delay, () => {
      timing.retryDue(path)
      waiting.delete(path)
      enqueue(path, 'retry')
    })
  }

  /** SYNC_PRUNE: a stack docker-cd deployed left Git: its project goes, volumes kept. */
  async function takeDown(path: string) {
    const record = records.get(path)
    const project = record?.project
    if (!project || stackOf(path)) return
    const revision = revisionNow()
    const treeHash = record.deployedTreeHash ?? ''
    const ref: SyncRunRef = { stack: path, trigger: 'prune', revision, treeHash }
    notify((o) =>
      o.phase?.({
        ...ref,
        phase: 'deleting',
        message: `docker compose down --remove-orphans of project ${project} (volumes kept)`,
      }),
    )
    const removed = { stack: path, project, revision, treeHash }
    try {
      await steps.takeDown(project)
      await records.delete(path)
      await options.git.releaseTree(path).catch(() => {})
      notify((o) =>
        o.stackRemoved?.({
          ...removed,
          result: 'deleted',
          message: `project ${project} taken down`,
        }),
      )
    } catch (error) {
      const message = (error as Error).message
      await records.set(path, (r) => ({
        ...r,
        lastResult: 'failed',
        error: `down failed: ${message}`,
      }))
      notify((o) =>
        o.stackRemoved?.({
          ...removed,
          result: 'failed',
          message: `down failed: ${message}`,
          failure: { kind: 'down', message },
        }),
      )
    }
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
        waiting.delete(path)
        published.delete(path)
        timing.forget(path)
        queue.drop(path, {
          status: 'failed',
          revision: snapshot.revision ?? '',
          treeHash: '',
          message: `stack ${path} is no longer in Git`,
        })
        if (options.mode === 'apply' && options.prune && records.get(path)?.project)
          queue.takeDown(path)
      }
    },
  }

  /** Unknown `x-docker-cd` keys: logged once per tree. */
  function warnSettings(path: string, check: HostCheck) {
    const warnings = check.settings?.warnings ?? []
    const tree = stackOf(path)?.treeOid ?? ''
    if (warnings.length === 0 || warned.get(path) === tree) return
    warned.set(path, tree)
    for (const warning of warnings) options.log.warn({ stack: path, tree }, warning)
  }

  return {
    observer,
    /** The host monitor's hook: a new check of a stack. */
    hostChecked(path: string, check: HostCheck) {
      warnSettings(path, check)
      if (!activities.has(path)) consider(path)
      publish(path)
    },
    /** A manual sync (the operator hands the stack over): starts now, or once a slot is free. */
    requestSync(path: string): { status: 'syncing' | 'queued'; done: Promise<SyncAnswer> } {
      const done = queue.nextRun(path)
      return { status: enqueue(path, 'manual'), done }
    },
    /** Why the stack has its status, as published (until the routes read it from the snapshot). */
    reasonOf(path: string): string | undefined {
      const stack = stackOf(path)
      return stack
        ? statusOf({
            tree: stack.treeOid,
            check: monitor.state(path),
            record: records.get(path),
            activity: activities.get(path),
            ...(waiting.has(path) ? { waiting: waiting.get(path) } : {}),
          })?.reason
        : undefined
    },
    /** A stack's deploy record, for its detail. */
    record: (path: string) => records.get(path),
    /** Stacks docker-cd deployed that Git no longer has (kept without SYNC_PRUNE, or being taken down). */
    removed(): RemovedStack[] {
      const inGit = new Set(options.current().stacks.map((stack) => stack.path))
      return records
        .all()
        .filter((record) => !inGit.has(record.stack) && record.project)
        .map((record) => ({
          stack: record.stack,
          ...(record.project ? { project: record.project } : {}),
          status: (queue.isTakingDown(record.stack)
            ? 'deleting'
            : 'kept') as RemovedStack['status'],
          reason:
            options.mode === 'apply' && options.prune
              ? record.error
                ? `removed from Git; ${record.error}`
                : 'removed from Git: being taken down'
              : 'removed from Git; still running (SYNC_PRUNE is off: take it down by hand or set SYNC_PRUNE=true)',
        }))
        .sort((a, b) => (a.stack < b.stack ? -1 : 1))
    },
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
      const running = queue.close({
        status: 'failed',
        revision: '',
        treeHash: '',
        message: 'docker-cd is shutting down',
      })
      let graceTimer: NodeJS.Timeout | undefined
      const grace = new Promise<'grace'>((resolve) => {
        graceTimer = setTimeout(() => resolve('grace'), options.shutdownGraceMs ?? 7000)
      })
      if ((await Promise.race([running.then(() => 'done' as const), grace])) === 'grace')
        stop.abort()
      clearTimeout(graceTimer)
      await running
      await records.flush()
    },
  }
}

export type SyncReconciler = ReturnType<typeof createSyncReconciler>
