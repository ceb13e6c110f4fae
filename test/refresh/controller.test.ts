import t from 'tap'
import { GitError } from '../../services/git/command.js'
import { createRefreshController } from '../../services/refresh/controller.js'
import type { Snapshot } from '../../services/refresh/snapshot.js'
import type { StepsResult } from '../../services/refresh/steps.js'

// Unit tests of the lifecycle owner with fake steps whose completion the test
// controls: status transitions, outcomes, and observers that misbehave.

const COMMIT_A = 'a'.repeat(40)
const COMMIT_B = 'b'.repeat(40)

function controlledSteps() {
  const calls: {
    previous: Snapshot
    resolve: (r: StepsResult) => void
    reject: (e: unknown) => void
  }[] = []
  const runSteps = (previous: Snapshot) =>
    new Promise<StepsResult>((resolve, reject) => {
      calls.push({ previous, resolve, reject })
    })
  return { runSteps, calls }
}

const stateAt = (revision: string, stacks: string[]): StepsResult => ({
  kind: 'read',
  hashed: stacks.length,
  skipped: [],
  warnings: [],
  steps: ['resolve', 'fetch', 'read-deploy-tree', 'read-stack-trees', 'hash-compose-files'],
  state: {
    revision,
    refType: 'branch',
    deployTreeOid: `tree-${revision}`,
    stacks: stacks.map((path) => ({
      path,
      composeFile: 'compose.yaml',
      composeHash: '0'.repeat(64),
      treeOid: `${path}-${revision}`,
      blobOid: `${path}-blob`,
    })),
  },
})

const tick = () => new Promise((resolve) => setImmediate(resolve))

function controller(observers: Parameters<typeof createRefreshController>[0]['observers'] = []) {
  const fake = controlledSteps()
  const observerErrors: unknown[] = []
  const refresher = createRefreshController({
    runSteps: fake.runSteps,
    ref: 'main',
    refType: 'branch',
    pollIntervalMs: 0,
    backoffInitialMs: 3_600_000,
    observers,
    onObserverError: (error) => observerErrors.push(error),
  })
  t.teardown(() => refresher.close())
  return { fake, refresher, observerErrors }
}

t.test(
  'status contract: failed → refreshing → completed; refreshError only when failed',
  async (t) => {
    const { fake, refresher } = controller()
    const first = refresher.start()
    await tick()
    fake.calls[0]?.reject(new GitError('unreachable', 'connection refused'))
    const failed = await first
    t.match(failed, {
      status: 'failed',
      trigger: 'startup',
      revision: null,
      previousRevision: null,
      error: { reason: 'unreachable', message: 'unreachable: connection refused' },
      steps: [],
    })
    t.match(refresher.current(), {
      refreshStatus: 'failed',
      refreshError: 'unreachable: connection refused',
    })
    t.notOk(refresher.isReady())

    const second = refresher.refresh('manual')
    t.equal(second.status, 'refreshing')
    await tick()
    const during = refresher.current()
    t.equal(during.refreshStatus, 'refreshing')
    t.notOk('refreshError' in during, 'no stale error while refreshing')

    fake.calls[1]?.resolve(stateAt(COMMIT_A, ['web', 'db']))
    const completed = await second.done
    t.match(completed, {
      status: 'completed',
      trigger: 'manual',
      revision: COMMIT_A,
      previousRevision: null,
      message: 'refresh completed',
      changes: { added: ['db', 'web'], changed: [], removed: [] },
      stackCount: 2,
      hashed: 2,
    })
    t.notOk('error' in completed)
    t.ok(Date.parse(completed.finishedAt) >= Date.parse(completed.startedAt))
    const after = refresher.current()
    t.match(after, { refreshStatus: 'completed', revision: COMMIT_A, trigger: 'manual' })
    t.notOk('refreshError' in after)
    t.ok(refresher.isReady())
    t.equal(refresher.lastOutcome(), completed)
  },
)

t.test('changes name stacks added, changed (tree id) and removed; statuses survive', async (t) => {
  const { fake, refresher } = controller()
  const first = refresher.start()
  await tick()
  fake.calls[0]?.resolve(stateAt(COMMIT_A, ['db', 'old', 'web']))
  await first
  t.ok(refresher.setStackStatus('web', 'synced'))
  const next = refresher.refresh('webhook')
  await tick()
  const changed = stateAt(COMMIT_B, ['db', 'new', 'web'])
  if (changed.kind === 'read') {
    // db keeps its tree id; web's tree changed.
    changed.state.stacks[0] = { ...changed.state.stacks[0], treeOid: `db-${COMMIT_A}` } as never
  }
  fake.calls[1]?.resolve(changed)
  t.match(await next.done, {
    revision: COMMIT_B,
    previousRevision: COMMIT_A,
    changes: { added: ['new'], changed: ['web'], removed: ['old'] },
  })
  t.same(
    refresher.current().stacks.map((s) => [s.path, s.status]),
    [
      ['db', 'missing'],
      ['new', 'missing'],
      ['web', 'synced'],
    ],
  )
})

t.test('an unchanged revision only moves the refresh time', async (t) => {
  const { fake, refresher } = controller()
  const first = refresher.start()
  await tick()
  fake.calls[0]?.resolve(stateAt(COMMIT_A, ['web']))
  await first
  const stacksBefore = refresher.current().stacks
  const again = refresher.refresh('periodic')
  await tick()
  fake.calls[1]?.resolve({ kind: 'unchanged', revision: COMMIT_A, steps: ['resolve'] })
  t.match(await again.done, {
    status: 'completed',
    message: 'refresh completed: revision unchanged',
    changes: { added: [], changed: [], removed: [] },
    steps: ['resolve'],
  })
  t.equal(refresher.current().stacks, stacksBefore, 'the same immutable stacks')
})

t.test('throwing observers never leave a waiter hanging', async (t) => {
  const { fake, refresher, observerErrors } = controller([
    {
      refreshStarted() {
        throw new Error('log sink broke')
      },
      refreshFinished() {
        throw new Error('metrics sink broke')
      },
      stackStatusChanged() {
        throw new Error('event sink broke')
      },
    },
  ])
  const first = refresher.start()
  await tick()
  fake.calls[0]?.resolve(stateAt(COMMIT_A, ['web']))
  t.match(await first, { status: 'completed', revision: COMMIT_A })
  t.ok(refresher.setStackStatus('web', 'syncing'))
  t.same(
    observerErrors.map((e) => (e as Error).message),
    ['log sink broke', 'metrics sink broke', 'event sink broke'],
  )
  // The queue is free again: a next request starts at once.
  const next = refresher.refresh('manual')
  t.equal(next.status, 'refreshing')
  await tick()
  fake.calls[1]?.reject(new Error('boom'))
  t.match(await next.done, {
    status: 'failed',
    error: { reason: 'internal', message: 'internal: boom' },
  })
})

t.test('a throwing error sink is contained too', async (t) => {
  const fake = controlledSteps()
  const refresher = createRefreshController({
    runSteps: fake.runSteps,
    ref: 'main',
    refType: 'branch',
    pollIntervalMs: 0,
    observers: [
      {
        refreshFinished() {
          throw new Error('sink')
        },
      },
    ],
    onObserverError() {
      throw new Error('error sink too')
    },
  })
  t.teardown(() => refresher.close())
  const first = refresher.start()
  await tick()
  fake.calls[0]?.resolve(stateAt(COMMIT_A, []))
  t.match(await first, { status: 'completed' })
})

t.test('stack status changes are told to observers once per real change', async (t) => {
  const seen: string[] = []
  const { fake, refresher } = controller([
    { stackStatusChanged: ({ path, from, to }) => seen.push(`${path}:${from}->${to}`) },
  ])
  const first = refresher.start()
  await tick()
  fake.calls[0]?.resolve(stateAt(COMMIT_A, ['web']))
  await first
  t.ok(refresher.setStackStatus('web', 'syncing'))
  t.ok(refresher.setStackStatus('web', 'syncing'))
  t.ok(refresher.setStackStatus('web', 'synced'))
  t.notOk(refresher.setStackStatus('nope', 'synced'))
  t.same(seen, ['web:missing->syncing', 'web:syncing->synced'])
})

t.test("a stack's reason is part of its state: written, told, kept by a refresh", async (t) => {
  type Told = { path: string; from: string; to: string; reason?: string; health?: string }
  const told: Told[] = []
  const { fake, refresher } = controller([{ stackStatusChanged: (event) => told.push(event) }])
  const first = refresher.start()
  await tick()
  fake.calls[0]?.resolve(stateAt(COMMIT_A, ['db', 'web']))
  await first
  const web = () => refresher.current().stacks.find((stack) => stack.path === 'web')
  t.notOk('reason' in (web() ?? {}), 'a new stack has no reason before its first check')

  t.ok(refresher.setStackStatus('web', 'failed', 'deploy of tree 1111111 failed', 'degraded'))
  const before = refresher.current()
  // The same status and health, a new reason: a change.
  t.ok(refresher.setStackStatus('web', 'failed', 'deploy of tree 2222222 failed', 'degraded'))
  t.not(refresher.current(), before, 'a new snapshot, swapped whole')
  t.match(web(), { status: 'failed', health: 'degraded', reason: 'deploy of tree 2222222 failed' })
  // The same three again: nothing written, nothing told.
  const written = refresher.current()
  t.ok(refresher.setStackStatus('web', 'failed', 'deploy of tree 2222222 failed', 'degraded'))
  t.equal(refresher.current(), written, 'the same snapshot')
  t.same(told, [
    {
      path: 'web',
      from: 'missing',
      to: 'failed',
      reason: 'deploy of tree 1111111 failed',
      health: 'degraded',
    },
    {
      path: 'web',
      from: 'failed',
      to: 'failed',
      reason: 'deploy of tree 2222222 failed',
      health: 'degraded',
    },
  ])

  // A reason that goes away is a change too; an empty one is none.
  t.ok(refresher.setStackStatus('web', 'failed', undefined, 'degraded'))
  t.notOk('reason' in (web() ?? {}))
  t.equal(told.length, 3)
  t.same(told[2], { path: 'web', from: 'failed', to: 'failed', health: 'degraded' })
  t.ok(refresher.setStackStatus('web', 'failed', '', 'degraded'))
  t.equal(told.length, 3, 'an empty reason is no reason')
  t.ok(refresher.setStackStatus('web', 'out_of_sync', 'service app would be started', 'degraded'))

  // A refresh keeps a surviving stack's status, health and reason; a new one has none.
  const next = refresher.refresh('manual')
  await tick()
  fake.calls[1]?.resolve(stateAt(COMMIT_B, ['new', 'web']))
  await next.done
  t.match(web(), {
    treeOid: `web-${COMMIT_B}`,
    status: 'out_of_sync',
    health: 'degraded',
    reason: 'service app would be started',
  })
  const added = refresher.current().stacks.find((stack) => stack.path === 'new')
  t.same(
    [added?.status, 'health' in (added ?? {}), 'reason' in (added ?? {})],
    ['missing', false, false],
  )
  t.equal(told.length, 4, 'a refresh is not a status change')
})

t.test('close aborts the running refresh and answers the waiting one', async (t) => {
  const fake = controlledSteps()
  let aborted = false
  const refresher = createRefreshController({
    runSteps: (previous, signal) => {
      signal?.addEventListener('abort', () => {
        aborted = true
        fake.calls
          .at(-1)
          ?.reject(new GitError('aborted', 'git ls-remote was stopped: shutting down'))
      })
      return fake.runSteps(previous)
    },
    ref: 'main',
    refType: 'branch',
    pollIntervalMs: 1000,
  })
  const running = refresher.refresh('manual')
  await tick()
  const waiting = refresher.refresh('webhook')
  await refresher.close()
  t.ok(aborted)
  t.match(await running.done, { status: 'failed', error: { reason: 'aborted' } })
  t.match(await waiting.done, {
    status: 'failed',
    trigger: 'webhook',
    error: { reason: 'aborted' },
  })
})
