import { join } from 'node:path'
import type { StackHealth, StackStatus } from '../../schemas/stack.js'
import type { GitReader } from '../git/index.js'
import type { Compose, Engine, HostCheck, HostMonitor, WorkTrees } from '../host/index.js'
import type { RefreshObserver, Snapshot } from '../refresh/index.js'
import { type Activity, decide, failureReason, ownerOf, statusOf } from './decide.js'
import {
  type DeployInProgress,
  type DeployRecords,
  type SyncRun,
  type SyncTrigger,
  type TreeRef,
  withInterruptedRun,
  withRun,
} from './records.js'
import { createSyncSteps, type SyncOutcome, type SyncPhase } from './steps.js'

// The one owner of applying, in the manner of Flux's kustomize-controller:
// host checks (services/host/monitor.ts) come in, a decision is taken per
// stack (decide.ts: only what Git changed, only what docker-cd owns), and
// deploys run one at a time — stacks in name order, a failure of one never
// stopping the next — as a short list of named steps in the stack's work
// tree: validate → pull → up (and wait) → read back, with rollback to the
// last good tree when `up` or the health wait fails. Every stack's status
// is written in exactly one place (publish), every decision and failure
// carries a reason, and every run lands in the stack's deploy record.
//
// A run writes its deploy down as in progress before `up`; a deploy found
// in progress at startup was interrupted (docker-cd was killed): it lands
// in the history as `interrupted` and is run again (trigger `recover`)
// through the health gate, rolling back to the recorded good tree if it
// does not pass (decide.ts).
//
// With SYNC_MODE=detect nothing is decided: only manual syncs run, and the
// recovery of a deploy docker-cd itself left half-done.

/** `event: sync` of the event feed: one per phase of a run. */
export type SyncEvent = {
  stack: string
  phase: SyncPhase
  trigger: SyncTrigger
  revision: string
  treeHash: string
  message: string
  error?: string
  rolledBackTo?: TreeRef
}

/** What a finished run answers to whoever asked for it. */
export type SyncAnswer = {
  status: 'completed' | 'failed'
  revision: string
  treeHash: string
  message: string
  error?: string
  rolledBackTo?: TreeRef
}

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

export function createSyncReconciler(options: {
  mode: 'detect' | 'apply'
  selfHeal: boolean
  adopt: boolean
  prune: boolean
  /** SYNC_TIMEOUT in seconds (`--wait-timeout`). */
  waitSeconds: number
  stacksDir: string
  current: () => Snapshot
  monitor: Pick<HostMonitor, 'exclusive' | 'state' | 'idle'>
  workTrees: Pick<WorkTrees, 'ensure' | 'treeRecord'>
  compose: Pick<Compose, 'validate' | 'model' | 'pull' | 'up' | 'down'>
  engine: Pick<Engine, 'imagePresent' | 'ping' | 'inspectProject'>
  records: DeployRecords
  git: Pick<GitReader, 'keepTree' | 'releaseTree'>
  setStatus: (path: string, status: StackStatus, reason: string, health?: StackHealth) => void
  onEvent: (event: SyncEvent) => void
  log: SyncLog
  /** Metrics: every finished run. */
  onFinished?: (run: SyncRun) => void
  /** Self-heal back-off: the first re-apply at once, then this, doubling, up to `max` (ms). */
  healBackoff?: { initialMs: number; maxMs: number }
  /** Retry of an engine failure: this, doubling, up to `max` (ms). */
  retryBackoff?: { initialMs: number; maxMs: number }
  /** On shutdown, how long a running deploy may finish before Compose is stopped. */
  shutdownGraceMs?: number
  now?: () => Date
}) {
  const now = options.now ?? (() => new Date())
  const healBackoff = options.healBackoff ?? { initialMs: 30_000, maxMs: 10 * 60_000 }
  const retryBackoff = options.retryBackoff ?? { initialMs: 10_000, maxMs: 5 * 60_000 }
  const { records } = options
  const workTreeOf = (path: string) => join(options.stacksDir, path)

  /** Stacks waiting for their run, by the trigger that asked (a manual request wins). */
  const pending = new Map<string, SyncTrigger>()
  /** Removed stacks waiting to be taken down. */
  const pendingPrune = new Set<string>()
  /** Who waits for the next run of a stack (manual syncs with ?wait=true). */
  const waiters = new Map<string, ((answer: SyncAnswer) => void)[]>()
  let running: { stack: string; activity: Activity } | undefined
  /** The run in progress, for close(). */
  let active: Promise<void> | undefined
  /** Who waits for no run to be in progress or waiting. */
  const idleWaiters: (() => void)[] = []
  /** Why nothing is done about a stack (apply mode), shown with its status. */
  const waiting = new Map<string, string>()
  /** When each stack was last re-applied by self-heal (the last hour). */
  const heals = new Map<string, number[]>()
  /** The tree each stack waits to retry after an engine failure (nothing else starts it meanwhile). */
  const retrying = new Map<string, string>()
  /** Engine failures in a row, per stack (retry back-off). */
  const retries = new Map<string, number>()
  const timers = new Map<string, NodeJS.Timeout>()
  const stop = new AbortController()
  const steps = createSyncSteps({
    workTrees: options.workTrees,
    compose: options.compose,
    engine: options.engine,
    stacksDir: options.stacksDir,
    waitSeconds: options.waitSeconds,
    signal: stop.signal,
  })
  let closed = false

  const stackOf = (path: string) => options.current().stacks.find((s) => s.path === path)

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
      if (run) options.onFinished?.(run)
    }

  /** The only place a stack's status is written while the reconciler runs. */
  function publish(path: string) {
    const status = currentStatus(path)
    if (status) options.setStatus(path, status.status, status.reason, status.health)
  }

  function currentStatus(path: string) {
    const stack = stackOf(path)
    if (!stack) return undefined
    return statusOf({
      tree: stack.treeOid,
      check: options.monitor.state(path),
      record: records.get(path),
      activity: running?.stack === path ? running.activity : undefined,
      ...(waiting.has(path) ? { waiting: waiting.get(path) } : {}),
    })
  }

  function later(path: string, delayMs: number, then: () => void) {
    clearTimeout(timers.get(path))
    const timer = setTimeout(() => {
      timers.delete(path)
      if (!closed) then()
    }, delayMs)
    timer.unref()
    timers.set(path, timer)
  }

  /** The self-heal gate: at once the first time, then backing off while the stack keeps drifting. */
  function healAllowed(path: string): { until: Date; count: number } | undefined {
    const hour = now().getTime() - 3_600_000
    const times = (heals.get(path) ?? []).filter((time) => time > hour)
    heals.set(path, times)
    const last = times.at(-1)
    if (last === undefined) return undefined
    const delay = Math.min(healBackoff.initialMs * 2 ** (times.length - 1), healBackoff.maxMs)
    const until = last + delay
    return until > now().getTime() ? { until: new Date(until), count: times.length } : undefined
  }

  /** Apply mode: what to do about a stack after its host check. */
  function consider(path: string) {
    if (closed || running?.stack === path || pending.has(path)) return
    const stack = stackOf(path)
    const check = options.monitor.state(path)
    if (!stack || !check) return
    if (retrying.get(path) === stack.treeOid) return
    const record = records.get(path)
    // SYNC_MODE=detect decides nothing, except finishing a deploy docker-cd itself left half-done.
    if (options.mode !== 'apply' && record?.inProgress?.toTree !== stack.treeOid) return
    const decision = decide({
      tree: stack.treeOid,
      check,
      record,
      owner: ownerOf(check, record, workTreeOf(path)),
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
      const blocked = healAllowed(path)
      if (blocked) {
        waiting.set(
          path,
          `${decision.why}; self-heal backs off until ${blocked.until.toISOString()} (${blocked.count} re-apply${blocked.count === 1 ? '' : 's'} in the last hour)`,
        )
        later(path, blocked.until.getTime() - now().getTime() + 10, () => {
          waiting.delete(path)
          consider(path)
          publish(path)
        })
        return
      }
      heals.get(path)?.push(now().getTime()) ?? heals.set(path, [now().getTime()])
    }
    options.log.info(
      { stack: path, trigger: decision.trigger, reason: decision.why },
      'sync queued',
    )
    enqueue(path, decision.trigger)
  }

  /** The host already runs this tree from docker-cd's work tree: the record says so now. */
  async function noteDeployed(path: string, tree: string, check: HostCheck) {
    const revision = options.current().revision ?? ''
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
  }

  function enqueue(path: string, trigger: SyncTrigger): 'syncing' | 'queued' {
    if (pending.get(path) !== 'manual') pending.set(path, trigger)
    const stack = stackOf(path)
    if (stack)
      options.onEvent({
        stack: path,
        phase: 'queued',
        trigger,
        revision: options.current().revision ?? '',
        treeHash: stack.treeOid,
        message: running ? `waiting for ${running.stack} to finish` : 'starting',
      })
    const answer = running ? 'queued' : 'syncing'
    queueMicrotask(pump)
    return answer
  }

  /** Starts the next run: removed stacks first (they free their names), then stacks by name. */
  /** The first run waits for the host's first full picture, so that the queue is in name order. */
  let firstPicture: 'waiting' | 'done' | undefined

  function pump() {
    if (running || closed || firstPicture === 'waiting') return
    if (firstPicture === undefined) {
      firstPicture = 'waiting'
      void options.monitor.idle().then(() => {
        firstPicture = 'done'
        pump()
      })
      return
    }
    const prune = [...pendingPrune].sort()[0]
    const next = prune ?? [...pending.keys()].sort()[0]
    if (next === undefined) {
      for (const resolve of idleWaiters.splice(0)) resolve()
      return
    }
    active = (prune !== undefined ? takeDown(prune) : run(next))
      .catch((error) => options.log.error({ err: error, stack: next }, 'sync run broke'))
      .finally(() => {
        running = undefined
        active = undefined
        pump()
      })
  }

  /** Takes the waiters of a stack's next run (the one starting now). */
  function takeWaiters(path: string) {
    const taken = waiters.get(path) ?? []
    waiters.delete(path)
    return (result: SyncAnswer) => {
      for (const resolve of taken) resolve(result)
    }
  }

  async function run(path: string) {
    const trigger = pending.get(path) ?? 'git'
    pending.delete(path)
    const answer = takeWaiters(path)
    const stack = stackOf(path)
    const revision = options.current().revision ?? ''
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
    const checkBefore = options.monitor.state(path)
    const activity: Activity = { phase: 'validate', tree, revision, trigger }
    running = { stack: path, activity }
    const started = now()
    const event = (phase: SyncPhase, message: string, extra: Partial<SyncEvent> = {}) =>
      options.onEvent({ stack: path, phase, trigger, revision, treeHash: tree, message, ...extra })
    const phase = (name: SyncPhase, message: string) => {
      activity.phase = name
      event(name, message)
      publish(path)
    }
    options.log.info(
      { stack: path, trigger, fromTree: before?.deployedTreeHash, toTree: tree, revision },
      'sync started',
    )
    // The good tree to return to: the one recorded when an interrupted deploy started, else the deployed one.
    const rollbackTo: TreeRef | undefined =
      before?.inProgress?.previous ??
      (before?.deployedTreeHash
        ? { revision: before.deployedRevision ?? '', treeHash: before.deployedTreeHash }
        : undefined)
    const writeInProgress = () =>
      records.set(
        path,
        (record) => ({
          ...record,
          inProgress: {
            toTree: tree,
            revision,
            ...(rollbackTo ? { previous: rollbackTo } : {}),
            startedAt: started.toISOString(),
            trigger,
          },
        }),
        // Not on disk: a kill during `up` would leave no trace of the rollback target.
        { durable: true },
      )
    const { result: outcome } = await options.monitor.exclusive(path, async () => {
      const outcome = await steps.run(path, tree, rollbackTo, checkBefore, phase, writeInProgress)
      // Written before the stack is read back, so the check that follows sees it.
      const finished = now()
      const history: SyncRun = {
        trigger,
        startedAt: started.toISOString(),
        finishedAt: finished.toISOString(),
        durationMs: finished.getTime() - started.getTime(),
        ...(rollbackTo ? { fromTree: rollbackTo.treeHash } : {}),
        toTree: tree,
        revision,
        result: outcome.result,
        servicesChanged: outcome.servicesChanged,
        reason: outcome.reason,
        ...(outcome.error ? { error: outcome.error } : {}),
        ...(outcome.rolledBackTo ? { rolledBackTo: outcome.rolledBackTo } : {}),
      }
      await records.set(path, (record) => {
        const next = withRun(record, history, {
          ...(outcome.project ? { project: outcome.project } : {}),
          treeFailed: outcome.failure === 'tree',
        })
        const deploy = stillInProgress(record.inProgress, started.toISOString(), outcome)
        return deploy ? { ...next, inProgress: deploy } : next
      })
      if (outcome.result === 'completed')
        await options.git
          .keepTree(path, tree)
          .catch((error) =>
            options.log.warn({ err: error, stack: path }, 'could not keep the deployed tree'),
          )
      options.onFinished?.(history)
      return outcome
    })
    running = undefined
    const record = records.get(path)
    const details = { stack: path, trigger, toTree: tree, revision, result: outcome.result }
    if (outcome.result === 'completed') {
      retries.delete(path)
      options.log.info(
        { ...details, durationMs: now().getTime() - started.getTime() },
        'sync finished',
      )
      event('completed', outcome.reason)
    } else {
      const message = record && outcome.failure === 'tree' ? failureReason(record) : outcome.reason
      options.log.error({ ...details, reason: message }, 'sync failed')
      event('failed', message, {
        ...(outcome.error ? { error: outcome.error } : {}),
        ...(outcome.rolledBackTo ? { rolledBackTo: outcome.rolledBackTo } : {}),
      })
      if (
        outcome.result === 'failed' &&
        outcome.failure !== 'tree' &&
        !closed &&
        options.mode === 'apply'
      )
        retryLater(path, tree, outcome.reason)
    }
    answer({
      status: outcome.result === 'completed' ? 'completed' : 'failed',
      revision,
      treeHash: tree,
      message:
        outcome.result !== 'completed' && record && outcome.failure === 'tree'
          ? failureReason(record)
          : outcome.reason,
      ...(outcome.error ? { error: outcome.error } : {}),
      ...(outcome.rolledBackTo ? { rolledBackTo: outcome.rolledBackTo } : {}),
    })
    consider(path)
    publish(path)
  }

  /**
   * Whether a deploy stays recorded as in progress after a run. This run's
   * own mark, when `up` began and the run did not settle the host (stopped
   * at shutdown, or the engine went away): the host may be half-changed, so
   * the retry or the restart finishes or rolls it back (its run is in the
   * history already: noted). An earlier run's mark (an interrupted deploy
   * this run was to recover) unless this run settled the host: completed,
   * or rolled back to the good tree; a run that failed before `up` (the engine
   * down, say) changed nothing, and the host still holds the half-done deploy.
   */
  function stillInProgress(
    deploy: DeployInProgress | undefined,
    startedAt: string,
    outcome: SyncOutcome,
  ): DeployInProgress | undefined {
    if (!deploy) return undefined
    if (deploy.startedAt === startedAt)
      return outcome.result === 'interrupted' ||
        (outcome.result === 'failed' && outcome.failure !== 'tree' && !outcome.rolledBackTo)
        ? { ...deploy, noted: true }
        : undefined
    return outcome.result === 'completed' || outcome.rolledBackTo ? undefined : deploy
  }

  /** An engine failure: the same tree is tried again, backing off. */
  function retryLater(path: string, tree: string, reason: string) {
    retrying.set(path, tree)
    const count = (retries.get(path) ?? 0) + 1
    retries.set(path, count)
    const delay = Math.min(retryBackoff.initialMs * 2 ** (count - 1), retryBackoff.maxMs)
    waiting.set(path, `${reason}; retried in ${Math.round(delay / 1000)}s`)
    later(path, delay, () => {
      retrying.delete(path)
      waiting.delete(path)
      enqueue(path, 'retry')
    })
  }

  /** SYNC_PRUNE: a stack docker-cd deployed left Git: `down --remove-orphans`, volumes kept. */
  async function takeDown(path: string) {
    pendingPrune.delete(path)
    const record = records.get(path)
    if (!record?.project || stackOf(path)) return
    const revision = options.current().revision ?? ''
    const tree = record.deployedTreeHash ?? ''
    running = { stack: path, activity: { phase: 'deleting', tree, revision, trigger: 'prune' } }
    const event = (phase: SyncPhase, message: string, extra: Partial<SyncEvent> = {}) =>
      options.onEvent({
        stack: path,
        phase,
        trigger: 'prune',
        revision,
        treeHash: tree,
        message,
        ...extra,
      })
    event(
      'deleting',
      `docker compose down --remove-orphans of project ${record.project} (volumes kept)`,
    )
    options.log.info(
      { stack: path, project: record.project },
      'taking down a stack removed from Git',
    )
    try {
      await options.compose.down(options.stacksDir, record.project, stop.signal)
      await records.delete(path)
      await options.git.releaseTree(path).catch(() => {})
      event('deleted', `project ${record.project} taken down`)
      options.log.info({ stack: path, project: record.project }, 'stack taken down')
    } catch (error) {
      const message = (error as Error).message
      await records.set(path, (r) => ({
        ...r,
        lastResult: 'failed',
        error: `down failed: ${message}`,
      }))
      event('failed', `down failed: ${message}`, { error: message })
      options.log.error({ stack: path, reason: message }, 'taking down failed')
    }
  }

  let seenFirst = false
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
        pending.delete(path)
        if (options.mode === 'apply' && options.prune && records.get(path)?.project) {
          pendingPrune.add(path)
          queueMicrotask(pump)
        }
      }
    },
  }

  return {
    observer,
    /** The host monitor's hook: a new check of a stack. */
    hostChecked(path: string, _check: HostCheck) {
      if (running?.stack !== path) consider(path)
      publish(path)
    },
    /** The tree to compare the host with: the rolled-back one while the snapshot's tree is a failed one. */
    treeFor(path: string, snapshotTree: string): string {
      const record = records.get(path)
      return record?.failedTreeHash === snapshotTree && record.rolledBackTo
        ? record.rolledBackTo.treeHash
        : snapshotTree
    },
    /** A manual sync (the operator hands the stack over): starts now or after the running one. */
    requestSync(path: string): { status: 'syncing' | 'queued'; done: Promise<SyncAnswer> } {
      const done = new Promise<SyncAnswer>((resolve) =>
        waiters.set(path, [...(waiters.get(path) ?? []), resolve]),
      )
      const busy = running !== undefined
      enqueue(path, 'manual')
      return { status: busy ? 'queued' : 'syncing', done }
    },
    /** A stack's deploy record, for its detail. */
    record: (path: string) => records.get(path),
    /** Why the stack has its status, as published (the check's reason with the reconciler's). */
    reasonOf: (path: string): string | undefined => currentStatus(path)?.reason,
    /** Stacks docker-cd deployed that Git no longer has (kept without SYNC_PRUNE, or being taken down). */
    removed(): RemovedStack[] {
      const inGit = new Set(options.current().stacks.map((stack) => stack.path))
      return records
        .all()
        .filter((record) => !inGit.has(record.stack) && record.project)
        .map((record) => ({
          stack: record.stack,
          ...(record.project ? { project: record.project } : {}),
          status: (running?.stack === record.stack || pendingPrune.has(record.stack)
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
    /** Resolves when no run is in progress or waiting (tests, benchmarks). */
    idle: (): Promise<void> =>
      !active && pending.size === 0 && pendingPrune.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => idleWaiters.push(resolve)),
    /**
     * Shutdown: nothing new starts; a running deploy may finish within the
     * grace period, then Compose is stopped (SIGTERM: it ends cleanly) and
     * the run is recorded as interrupted (tried again after the restart).
     */
    async close() {
      closed = true
      for (const timer of timers.values()) clearTimeout(timer)
      timers.clear()
      for (const path of pending.keys())
        takeWaiters(path)({
          status: 'failed',
          revision: '',
          treeHash: '',
          message: 'docker-cd is shutting down',
        })
      pending.clear()
      pendingPrune.clear()
      const inProgress = active
      if (inProgress) {
        let graceTimer: NodeJS.Timeout | undefined
        const grace = new Promise<'grace'>((resolve) => {
          graceTimer = setTimeout(() => resolve('grace'), options.shutdownGraceMs ?? 7000)
        })
        if ((await Promise.race([inProgress.then(() => 'done' as const), grace])) === 'grace')
          stop.abort()
        clearTimeout(graceTimer)
        await inProgress
      }
      await records.flush()
      for (const resolve of idleWaiters.splice(0)) resolve()
    },
  }
}

export type SyncReconciler = ReturnType<typeof createSyncReconciler>
