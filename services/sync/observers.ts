import type { StackHealth } from '../../schemas/stack.js'
import type { SyncFailure } from './failure.js'
import type { SyncRun, SyncTrigger, TreeRef } from './records.js'
import type { SyncPhase } from './steps.js'

// Who hears about sync runs: the event feed, metrics and the log subscribe
// here notifications and commit statuses, through the observer list
// every lifecycle uses (services/base/observer-list.ts); nobody reaches into
// the reconciler. One observer that throws is reported, never allowed to
// stall a deploy or the observers after it.

/** What a run is about, in every event of it. */
export type SyncRunRef = Readonly<{
  stack: string
  trigger: SyncTrigger
  /** The commit of the snapshot the run deploys from. */
  revision: string
  /** The stack's tree the run applies. */
  treeHash: string
}>

/** A run's result, once: everything an observer needs to tell someone about it. */
export type SyncRunFinished = SyncRunRef &
  Readonly<{
    /** The tree the host ran before (the last deployed), if known. */
    fromTree?: string
    result: SyncRun['result']
    /** Services the run changed (from the plan before it). */
    servicesChanged: readonly string[]
    /** What happened, in words (for a failure: the whole sentence, rollback included). */
    message: string
    /** Why it failed, typed, with the (scrubbed) message of the step that failed. */
    failure?: SyncFailure
    rolledBackTo?: TreeRef
    /** The run as the stack's history keeps it. */
    run: SyncRun
  }>

/** A stack that left Git, taken down (SYNC_PRUNE) or not. */
export type SyncStackRemoved = Readonly<{
  stack: string
  project: string
  revision: string
  /** The tree it ran. */
  treeHash: string
  result: 'deleted' | 'failed'
  message: string
  failure?: SyncFailure
}>

/**
 * A stack docker-cd deployed, checked against the tree it deployed (not
 * Git's news: the same tree): the host left it — someone stopped, removed or
 * changed something — or is in line with it. Told after every such check;
 * observers keep their own memory of what they said.
 */
export type SyncDriftChecked = Readonly<{
  stack: string
  revision: string
  treeHash: string
  drifted: boolean
  /** The check's reason, in words (what differs, when drifted). */
  reason: string
  /** The containers' health, as the check found it. */
  health?: StackHealth
}>

export type SyncObserver = {
  /** A stack is queued for a run (`message`: what it waits for, if anything). */
  runQueued?(event: SyncRunRef & { message: string }): void
  /** A run starts (its first phase follows). */
  runStarted?(event: SyncRunRef & { fromTree?: string }): void
  /** A run enters a phase: validate, pull, up, wait, rollback; deleting for a take-down. */
  phase?(event: SyncRunRef & { phase: SyncPhase; message: string }): void
  runFinished?(event: SyncRunFinished): void
  stackRemoved?(event: SyncStackRemoved): void
  driftChecked?(event: SyncDriftChecked): void
}
