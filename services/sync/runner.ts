import type { GitReader } from '../git/index.js'
import type { HostMonitor, ImagePolicy } from '../host/index.js'
import type { Snapshot } from '../refresh/index.js'
import type { Activity } from './decide.js'
import { type ImageUpdate, imageUpdatesFor, type RunningImage } from './image-updates.js'
import type { SyncObserver, SyncRunRef } from './observers.js'
import { interruptedRunFinished, type RunStart, type SettledRun, settleRun } from './outcome.js'
import {
  type DeployRecords,
  type SyncTrigger,
  type TreeRef,
  withInterruptedRun,
} from './records.js'
import { createSyncSteps, type SyncOutcome, type SyncPhase } from './steps.js'

// Runs what the reconciler queued: one deploy of one stack (its steps with
// the stack held from checks, its record settled, its observers told), or
// the take-down of a stack that left Git. It decides nothing: the
// reconciler chose the run, and acts on what it returns.

export type Notify = (call: (observer: SyncObserver) => void) => void

export function createSyncRunner(options: {
  current: () => Snapshot
  monitor: Pick<HostMonitor, 'exclusive' | 'state'>
  records: DeployRecords
  /** What the steps run on: the work trees, the runtime, SYNC_TIMEOUT. */
  steps: Omit<Parameters<typeof createSyncSteps>[0], 'signal'>
  git: Pick<GitReader, 'keepTree' | 'releaseTree'>
  /** IMAGE_UPDATES: which moved tags a run takes (image-updates.ts). */
  imagePolicy: ImagePolicy
  notify: Notify
  /** The run's phase changed: the stack's status says so. */
  onPhase: (path: string) => void
  warn: (details: object, message: string) => void
  now: () => Date
}) {
  const { records, notify, now } = options
  /** Aborted at shutdown (after the grace period): Compose is stopped. */
  const stop = new AbortController()
  const steps = createSyncSteps({ ...options.steps, signal: stop.signal })
  /** Runs in progress, by stack: their phase shows in the status. */
  const activities = new Map<string, Activity>()
  const revisionNow = () => options.current().revision ?? ''

  /**
   * Deploys a killed docker-cd left in progress (startup): into the history
   * at once, with why; the recovery run follows each stack's first check.
   */
  function noteInterrupted() {
    for (const record of records.all())
      if (record.inProgress && !record.inProgress.noted) {
        options.warn(
          { stack: record.stack, toTree: record.inProgress.toTree },
          'found a deploy interrupted by a stop of docker-cd',
        )
        void records.set(record.stack, (r) => withInterruptedRun(r, now()))
        const run = records.get(record.stack)?.history[0]
        if (run) notify((o) => o.runFinished?.(interruptedRunFinished(record.stack, run)))
      }
  }

  /** One deploy; undefined when the stack left Git before it started. */
  async function run(
    path: string,
    trigger: SyncTrigger,
  ): Promise<{ outcome: SyncOutcome; settled: SettledRun } | undefined> {
    const stack = options.current().stacks.find((s) => s.path === path)
    if (!stack) return undefined
    // The commit the stack's tree came with (when docker-cd saw it change):
    // the repository's head may be another stack's commit since.
    const revision = stack.changedRevision || revisionNow()
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
    notify((o) =>
      o.runStarted?.({ ...ref, ...(rollbackTo ? { fromTree: rollbackTo.treeHash } : {}) }),
    )
    const phase = (name: SyncPhase, message: string) => {
      activity.phase = name
      notify((o) => o.phase?.({ ...ref, phase: name, message }))
      options.onPhase(path)
    }
    const checkBefore = options.monitor.state(path)
    const interrupted = before?.inProgress?.toTree === tree ? before.inProgress : undefined
    const imageUpdates = imageUpdatesFor({
      check: checkBefore,
      failed: before?.failedImages,
      defaultPolicy: options.imagePolicy,
      trigger,
      refused: options.steps.runtime.imageApplyRefused,
    })
    // An interrupted image update is finished as one: its pull may have moved
    // the host's tag already (the check then says "recreate", not "update").
    for (const update of interrupted?.imageUpdates ?? [])
      if (!imageUpdates.some((u) => u.service === update.service)) imageUpdates.push(update)
    const interruptedImages = before?.inProgress?.previousImages
    try {
      const { result } = await options.monitor.exclusive(path, async () => {
        const outcome = await steps.run({
          path,
          tree,
          rollbackTo,
          checkBefore,
          imageUpdates,
          ...(interruptedImages ? { previousImages: interruptedImages } : {}),
          phase,
          beforeUp: (previousImages, updates) => writeInProgress(start, previousImages, updates),
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
              options.warn({ err: error, stack: path }, 'could not keep the deployed tree'),
            )
        return { outcome, settled: settled as SettledRun }
      })
      notify((o) => o.runFinished?.(result.settled.finished))
      return result
    } finally {
      activities.delete(path)
    }
  }

  /** The deploy is written down before `up` changes the host (on disk: a kill during `up` must leave the rollback target). */
  function writeInProgress(
    start: RunStart,
    previousImages: readonly RunningImage[],
    imageUpdates: readonly ImageUpdate[],
  ) {
    return records.set(
      start.stack,
      (record) => ({
        ...record,
        inProgress: {
          toTree: start.tree,
          revision: start.revision,
          ...(start.rollbackTo ? { previous: start.rollbackTo } : {}),
          ...(previousImages.length > 0 ? { previousImages: [...previousImages] } : {}),
          ...(imageUpdates.length > 0 ? { imageUpdates: [...imageUpdates] } : {}),
          startedAt: start.startedAt.toISOString(),
          trigger: start.trigger,
        },
      }),
      { durable: true },
    )
  }

  /** SYNC_PRUNE: a stack docker-cd deployed left Git: its project goes, volumes kept. */
  async function takeDown(path: string) {
    const record = records.get(path)
    const project = record?.project
    if (!project || options.current().stacks.some((s) => s.path === path)) return
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

  return {
    noteInterrupted,
    run,
    takeDown,
    /** Stops what runs (Compose gets SIGTERM): the runs end as interrupted. */
    stop: () => stop.abort(),
    /** The run in progress of a stack, if any (its phase). */
    activity: (path: string): Activity | undefined => activities.get(path),
  }
}

export type SyncRunner = ReturnType<typeof createSyncRunner>
