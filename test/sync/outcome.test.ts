import t from 'tap'
import { failureOf } from '../../services/sync/failure.js'
import { interruptedRunFinished, type RunStart, settleRun } from '../../services/sync/outcome.js'
import {
  type DeployInProgress,
  type DeployRecord,
  withInterruptedRun,
} from '../../services/sync/records.js'
import type { SyncOutcome } from '../../services/sync/steps.js'

// Unit tests of what one finished run changes (settleRun): the record
// after it, what observers are told, what the caller gets, and whether it
// is tried again. Pure: a run's start, its outcome and the record as it is.

const GOOD = { revision: 'a1b2c3d4e5f6', treeHash: 'f00d1234abcd' }
const NEW_TREE = 'beef5678cafe'
const NEW_REVISION = '99887766aabb'
const startedAt = new Date('2025-03-01T12:00:00.000Z')
const finishedAt = new Date('2025-03-01T12:00:42.500Z')

const start: RunStart = {
  stack: 'web',
  trigger: 'git',
  revision: NEW_REVISION,
  tree: NEW_TREE,
  startedAt,
  rollbackTo: GOOD,
}

const earlierRun = {
  trigger: 'git' as const,
  startedAt: '2025-02-28T10:00:00.000Z',
  finishedAt: '2025-02-28T10:00:10.000Z',
  durationMs: 10_000,
  toTree: 'deadbeef0000',
  revision: 'old',
  result: 'failed' as const,
  servicesChanged: ['app'],
  reason: 'up failed: earlier',
  error: 'earlier',
}

/** A record with leftovers of an earlier failed run (none may survive this run). */
const before: DeployRecord = {
  stack: 'web',
  project: 'web',
  deployedTreeHash: GOOD.treeHash,
  deployedRevision: GOOD.revision,
  deployedAt: '2025-02-27T09:00:00.000Z',
  lastResult: 'failed',
  error: 'earlier',
  failedTreeHash: 'deadbeef0000',
  rolledBackTo: GOOD,
  history: [earlierRun],
}

/** This run's own in-progress mark (written before `up`). */
const ownMark: DeployInProgress = {
  toTree: NEW_TREE,
  revision: NEW_REVISION,
  previous: GOOD,
  startedAt: startedAt.toISOString(),
  trigger: 'git',
}

/** The mark of an earlier deploy, interrupted by a kill of docker-cd (this run recovers it). */
const earlierMark: DeployInProgress = {
  toTree: NEW_TREE,
  revision: NEW_REVISION,
  previous: GOOD,
  startedAt: '2025-03-01T11:00:00.000Z',
  trigger: 'git',
  noted: true,
}

const completed: SyncOutcome = {
  result: 'completed',
  reason: `deployed tree ${NEW_TREE.slice(0, 7)}: changed app`,
  servicesChanged: ['app'],
  project: 'web',
}

const treeFailure = (step: SyncOutcome['step'], extra: Partial<SyncOutcome> = {}): SyncOutcome => ({
  result: 'failed',
  reason: `${step} failed: boom`,
  error: 'boom',
  servicesChanged: ['app'],
  project: 'web',
  failure: 'tree',
  step,
  ...extra,
})

const engineFailure: SyncOutcome = {
  result: 'failed',
  reason: 'pull failed: Cannot connect to the Docker daemon',
  error: 'Cannot connect to the Docker daemon',
  servicesChanged: [],
  project: 'web',
  failure: 'unreachable',
  step: 'pull',
}

const interrupted: SyncOutcome = {
  result: 'interrupted',
  reason: 'up stopped: docker-cd is shutting down',
  servicesChanged: ['app'],
  project: 'web',
  step: 'up',
}

t.test(
  'a completed run: the tree is deployed, nothing of an earlier failure is left',
  async (t) => {
    const settled = settleRun(start, completed, finishedAt, before)
    t.match(settled.record, {
      stack: 'web',
      project: 'web',
      deployedTreeHash: NEW_TREE,
      deployedRevision: NEW_REVISION,
      deployedAt: finishedAt.toISOString(),
      lastResult: 'completed',
    })
    for (const key of ['error', 'failedTreeHash', 'rolledBackTo', 'inProgress'] as const)
      t.notOk(key in settled.record, `no ${key} left`)
    t.equal(settled.record.history.length, 2)
    t.same(settled.record.history[1], earlierRun, 'the earlier run stays in the history')
    t.same(settled.record.history[0], {
      trigger: 'git',
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: 42_500,
      fromTree: GOOD.treeHash,
      toTree: NEW_TREE,
      revision: NEW_REVISION,
      result: 'completed',
      servicesChanged: ['app'],
      reason: completed.reason,
    })
    t.same(settled.answer, {
      status: 'completed',
      revision: NEW_REVISION,
      treeHash: NEW_TREE,
      message: completed.reason,
    })
    t.match(settled.finished, {
      stack: 'web',
      trigger: 'git',
      revision: NEW_REVISION,
      treeHash: NEW_TREE,
      fromTree: GOOD.treeHash,
      result: 'completed',
      servicesChanged: ['app'],
      message: completed.reason,
      run: settled.record.history[0],
    })
    t.notOk('failure' in settled.finished, 'no failure on a completed run')
    t.equal(settled.retry, false)
  },
)

t.test('a first deploy has no tree to come from', async (t) => {
  const { stack, trigger, revision, tree } = start
  const settled = settleRun({ stack, trigger, revision, tree, startedAt }, completed, finishedAt, {
    stack: 'web',
    history: [],
  })
  t.notOk('fromTree' in (settled.record.history[0] ?? {}))
  t.notOk('fromTree' in settled.finished)
  t.equal(settled.record.deployedTreeHash, NEW_TREE)
})

t.test(
  "a failure of the tree: failed tree recorded, the whole sentence, the step's kind",
  async (t) => {
    const settled = settleRun(
      start,
      treeFailure('health', { rolledBackTo: GOOD }),
      finishedAt,
      before,
    )
    t.match(settled.record, {
      deployedTreeHash: GOOD.treeHash,
      deployedRevision: GOOD.revision,
      lastResult: 'failed',
      failedTreeHash: NEW_TREE,
      error: 'boom',
      rolledBackTo: GOOD,
    })
    const message =
      'deploy of tree beef567 failed: boom; rolled back to revision a1b2c3d (tree f00d123)'
    t.equal(settled.finished.message, message, 'the message says the rollback')
    t.same(settled.finished.failure, { kind: 'health', message: 'boom' })
    t.same(settled.finished.rolledBackTo, GOOD)
    t.same(settled.answer, {
      status: 'failed',
      revision: NEW_REVISION,
      treeHash: NEW_TREE,
      message,
      error: 'boom',
      rolledBackTo: GOOD,
    })
    t.equal(settled.retry, false, 'not retried until the tree changes')
    t.match(settled.record.history[0], { result: 'failed', error: 'boom', rolledBackTo: GOOD })

    const noRollback = settleRun(start, treeFailure('validation'), finishedAt, before)
    t.equal(noRollback.finished.message, 'deploy of tree beef567 failed: boom')
    t.notOk('rolledBackTo' in noRollback.record, "an earlier run's rollback is not left over")
    t.notOk('rolledBackTo' in noRollback.answer)
  },
)

t.test('the failure kind is the step that failed', async (t) => {
  for (const step of ['validation', 'pull', 'up', 'health'] as const) {
    const settled = settleRun(start, treeFailure(step), finishedAt, before)
    t.same(settled.finished.failure, { kind: step, message: 'boom' }, step)
    t.equal(settled.record.failedTreeHash, NEW_TREE, `${step}: the tree is marked failed`)
  }
})

t.test('an engine failure: retried, kind engine, the tree is not marked failed', async (t) => {
  const settled = settleRun(start, engineFailure, finishedAt, before)
  t.equal(settled.retry, true)
  t.same(settled.finished.failure, {
    kind: 'engine',
    message: 'Cannot connect to the Docker daemon',
  })
  t.notOk('failedTreeHash' in settled.record, 'not the tree: nothing marked failed')
  t.match(settled.record, {
    lastResult: 'failed',
    deployedTreeHash: GOOD.treeHash,
    error: 'Cannot connect to the Docker daemon',
  })
  t.equal(settled.finished.message, engineFailure.reason, "the step's own words")
  t.match(settled.answer, { status: 'failed', message: engineFailure.reason })

  const local = settleRun(
    start,
    { ...engineFailure, failure: 'local', step: undefined, error: 'disk full' },
    finishedAt,
    before,
  )
  t.equal(local.retry, true, "docker-cd's own side is retried too")
  t.same(local.finished.failure, { kind: 'local', message: 'disk full' })
  t.notOk('failedTreeHash' in local.record)
})

t.test('an interrupted run: kind interrupted, not retried, nothing marked failed', async (t) => {
  const settled = settleRun(start, interrupted, finishedAt, before)
  t.same(settled.finished.failure, { kind: 'interrupted', message: interrupted.reason })
  t.equal(settled.finished.result, 'interrupted')
  t.equal(settled.retry, false)
  t.match(settled.record, { lastResult: 'interrupted', deployedTreeHash: GOOD.treeHash })
  t.notOk('failedTreeHash' in settled.record)
  t.match(settled.answer, { status: 'failed', message: interrupted.reason })
})

t.test('failureOf: typed, from whose failure and the step', async (t) => {
  const base = { reason: 'r', error: 'e' }
  t.equal(failureOf({ ...base, result: 'completed' }), undefined)
  t.same(failureOf({ ...base, result: 'interrupted', failure: 'tree', step: 'up' }), {
    kind: 'interrupted',
    message: 'e',
  })
  t.same(failureOf({ ...base, result: 'failed', failure: 'unreachable', step: 'up' }), {
    kind: 'engine',
    message: 'e',
  })
  t.same(failureOf({ ...base, result: 'failed', failure: 'local', step: 'pull' }), {
    kind: 'local',
    message: 'e',
  })
  t.same(failureOf({ result: 'failed', failure: 'tree', step: 'pull', reason: 'only r' }), {
    kind: 'pull',
    message: 'only r',
  })
})

t.test(
  "this run's own in-progress mark: kept (noted) only when the host was not settled",
  async (t) => {
    const current = { ...before, inProgress: ownMark }
    t.same(
      settleRun(start, interrupted, finishedAt, current).record.inProgress,
      { ...ownMark, noted: true },
      'interrupted during up: kept, and noted (the run is in the history already)',
    )
    t.same(
      settleRun(start, engineFailure, finishedAt, current).record.inProgress,
      { ...ownMark, noted: true },
      'the engine went away: kept and noted, the retry finishes or rolls back',
    )
    t.notOk(
      'inProgress' in settleRun(start, completed, finishedAt, current).record,
      'completed: settled',
    )
    t.notOk(
      'inProgress' in settleRun(start, treeFailure('health'), finishedAt, current).record,
      "the tree's failure: settled (the run ended it, rolled back or not)",
    )
    t.notOk(
      'inProgress' in
        settleRun(start, treeFailure('health', { rolledBackTo: GOOD }), finishedAt, current).record,
      'rolled back: settled',
    )
  },
)

t.test(
  "an earlier interrupted deploy's mark: settled only by completed or rolled back",
  async (t) => {
    const current = { ...before, inProgress: earlierMark }
    const recover = { ...start, trigger: 'recover' as const }
    t.notOk('inProgress' in settleRun(recover, completed, finishedAt, current).record, 'completed')
    t.notOk(
      'inProgress' in
        settleRun(recover, treeFailure('health', { rolledBackTo: GOOD }), finishedAt, current)
          .record,
      'rolled back to the good tree',
    )
    t.same(
      settleRun(recover, treeFailure('validation'), finishedAt, current).record.inProgress,
      earlierMark,
      'failed before up: the host still holds the half-done deploy',
    )
    t.same(
      settleRun(recover, engineFailure, finishedAt, current).record.inProgress,
      earlierMark,
      'the engine down: kept as it was',
    )
    t.same(
      settleRun(recover, interrupted, finishedAt, current).record.inProgress,
      earlierMark,
      'interrupted: kept as it was',
    )
  },
)

t.test('a deploy found interrupted at startup, as observers get it', async (t) => {
  const record = withInterruptedRun(
    { ...before, inProgress: { ...ownMark } },
    new Date('2025-03-01T12:05:00.000Z'),
  )
  const run = record.history[0]
  if (!run) throw new Error('no run recorded')
  const finished = interruptedRunFinished('web', run)
  t.match(finished, {
    stack: 'web',
    trigger: 'git',
    revision: NEW_REVISION,
    treeHash: NEW_TREE,
    fromTree: GOOD.treeHash,
    result: 'interrupted',
    message: run.reason,
    failure: { kind: 'interrupted', message: run.reason },
    run,
  })
  t.match(run.reason, /during the deploy of tree beef567/)
})
