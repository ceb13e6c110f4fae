import { failureReason } from './decide.js'
import { failureOf } from './failure.js'
import type { SyncRunFinished } from './observers.js'
import {
  type DeployInProgress,
  type DeployRecord,
  type RolledBackTo,
  type SyncRun,
  type SyncTrigger,
  type TreeRef,
  withRun,
} from './records.js'
import type { SyncOutcome } from './steps.js'

// What a finished run changes, built once, here: the stack's record (the
// run in its history, the deployed or failed tree, the in-progress mark
// kept or settled), what observers are told (event feed, metrics, log),
// what the caller who asked gets, and whether the run is tried again. The
// reconciler writes the record and publishes the rest; nothing about one
// run is assembled anywhere else.

/** What a finished run answers to whoever asked for it. */
export type SyncAnswer = {
  status: 'completed' | 'failed'
  revision: string
  treeHash: string
  message: string
  error?: string
  rolledBackTo?: RolledBackTo
}

/** A run as it started. */
export type RunStart = {
  stack: string
  trigger: SyncTrigger
  revision: string
  tree: string
  startedAt: Date
  /** The good tree to return to (the last deployed, or the one an interrupted deploy recorded). */
  rollbackTo?: TreeRef
}

export type SettledRun = {
  /** The stack's record after the run. */
  record: DeployRecord
  finished: SyncRunFinished
  answer: SyncAnswer
  /** Failed on the engine's or docker-cd's side: the same tree is tried again, backing off. */
  retry: boolean
}

/** Everything a finished run changes; `current` is the stack's record as it is now. */
export function settleRun(
  start: RunStart,
  outcome: SyncOutcome,
  finishedAt: Date,
  current: DeployRecord,
): SettledRun {
  const run: SyncRun = {
    trigger: start.trigger,
    startedAt: start.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - start.startedAt.getTime(),
    ...(start.rollbackTo ? { fromTree: start.rollbackTo.treeHash } : {}),
    toTree: start.tree,
    revision: start.revision,
    result: outcome.result,
    servicesChanged: outcome.servicesChanged,
    ...(outcome.fileChanges ? { fileChanges: outcome.fileChanges } : {}),
    ...(outcome.imageUpdates?.length ? { imageUpdates: outcome.imageUpdates } : {}),
    ...(outcome.imagesUnchanged?.length ? { imagesUnchanged: outcome.imagesUnchanged } : {}),
    ...(outcome.images?.length ? { images: outcome.images } : {}),
    ...(outcome.evidence?.length ? { evidence: outcome.evidence } : {}),
    reason: outcome.reason,
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.rolledBackTo ? { rolledBackTo: outcome.rolledBackTo } : {}),
  }
  const next = withRun(current, run, {
    ...(outcome.project ? { project: outcome.project } : {}),
    treeFailed: outcome.failure === 'tree',
  })
  const deploy = stillInProgress(current.inProgress, run.startedAt, outcome)
  const record = deploy ? { ...next, inProgress: deploy } : next
  const message =
    outcome.result !== 'completed' && outcome.failure === 'tree'
      ? failureReason(record)
      : outcome.reason
  const failure = failureOf(outcome)
  const extra = {
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.rolledBackTo ? { rolledBackTo: outcome.rolledBackTo } : {}),
  }
  return {
    record,
    finished: {
      ...finishedRef(start.stack, run),
      message,
      ...(failure ? { failure } : {}),
      ...(outcome.rolledBackTo ? { rolledBackTo: outcome.rolledBackTo } : {}),
    },
    answer: {
      status: outcome.result === 'completed' ? 'completed' : 'failed',
      revision: start.revision,
      treeHash: start.tree,
      message,
      ...extra,
    },
    retry: outcome.result === 'failed' && outcome.failure !== 'tree',
  }
}

/** A deploy found interrupted at startup (docker-cd was killed during it), as observers get it. */
export function interruptedRunFinished(stack: string, run: SyncRun): SyncRunFinished {
  return {
    ...finishedRef(stack, run),
    message: run.reason,
    failure: { kind: 'interrupted', message: run.reason },
  }
}

function finishedRef(stack: string, run: SyncRun) {
  return {
    stack,
    trigger: run.trigger,
    revision: run.revision,
    treeHash: run.toTree,
    ...(run.fromTree ? { fromTree: run.fromTree } : {}),
    result: run.result,
    servicesChanged: run.servicesChanged,
    run,
  }
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
    return !outcome.hostUnchanged &&
      (outcome.result === 'interrupted' ||
        (outcome.result === 'failed' && outcome.failure !== 'tree' && !outcome.rolledBackTo))
      ? { ...deploy, noted: true }
      : undefined
  return outcome.result === 'completed' || outcome.rolledBackTo ? undefined : deploy
}
