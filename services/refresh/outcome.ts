import type { RefreshTrigger } from '../../schemas/refresh.js'
import { GitError, type GitErrorCode } from '../git/index.js'
import { QueueClosedError } from './queue.js'
import type { Snapshot, StackChanges } from './snapshot.js'
import { NO_CHANGES } from './snapshot.js'
import type { RefreshStep } from './steps.js'

// What every caller of a refresh gets back: one frozen outcome, built here
// from the snapshot the refresh left behind, with a reason on every failure.

export type RefreshFailureReason = GitErrorCode | 'internal'

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

export type OutcomeBase = Pick<RefreshOutcome, 'trigger' | 'previousRevision' | 'startedAt'>

type Failure = { reason: RefreshFailureReason; message: string }

/** The category and token-free message of whatever stopped a refresh. */
export function failureOf(error: unknown): Failure {
  if (error instanceof GitError) return { reason: error.code, message: error.message }
  if (error instanceof QueueClosedError)
    return { reason: 'aborted', message: `aborted: ${error.message}` }
  // Not from git, so it carries no secret; a bug or an abort outside git.
  const text = error instanceof Error ? error.message : String(error)
  return { reason: 'internal', message: `internal: ${text}` }
}

/** The outcome of a refresh that finished at `finished`, leaving `snapshot`. */
export function buildOutcome(
  base: OutcomeBase,
  finished: Date,
  snapshot: Snapshot,
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

/** The outcome of a failed refresh: nothing changed, the reason says why. */
export function failedOutcome(
  base: OutcomeBase,
  finished: Date,
  snapshot: Snapshot,
  failure: Failure,
): RefreshOutcome {
  return buildOutcome(base, finished, snapshot, {
    status: 'failed',
    message: failure.message,
    error: failure,
    changes: NO_CHANGES,
    hashed: 0,
    steps: [],
    skipped: [],
    warnings: [],
  })
}
