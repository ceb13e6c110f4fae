import t from 'tap'
import {
  ComposeError,
  ComposeUnavailable,
  EngineRefused,
  EngineUnavailable,
  type InspectedContainer,
} from '../../services/host/index.js'
import { failureKind } from '../../services/sync/failure.js'
import { readBackProblems } from '../../services/sync/read-back.js'
import {
  type DeployRecord,
  type SyncRun,
  withInterruptedRun,
  withRun,
} from '../../services/sync/records.js'

// The pure parts of issue 24's items 3 and 5: the read-back after `up`,
// whose failure a failed step is, and record updates that belong to one run
// (the real engine runs them in interrupted.test.ts and failures.test.ts).

const container = (fields: Partial<InspectedContainer> = {}): InspectedContainer => ({
  id: 'c1',
  name: 'web-app-1',
  service: 'app',
  state: 'running',
  restartCount: 0,
  exitCode: 0,
  restartPolicy: 'no',
  startedAt: '2026-01-01T00:00:00Z',
  ...fields,
})

t.test('the read-back', async (t) => {
  const none = new Map<string, number>()
  t.same(readBackProblems(['app'], [container()], none), [], 'running, no health check: passes')
  t.same(readBackProblems(['app'], [container({ health: 'healthy' })], none), [])
  t.match(readBackProblems(['app'], [container({ health: 'unhealthy' })], none), [
    'web-app-1 is unhealthy',
  ])
  t.match(readBackProblems(['app'], [container({ health: 'starting' })], none), [/not healthy yet/])
  t.match(
    readBackProblems(
      ['app'],
      [container({ restartCount: 3, exitCode: 1, restartPolicy: 'always' })],
      none,
    ),
    [/exits and is restarted \(3 restarts during the deploy, last exit code 1\)/],
    'caught running between two restarts: not passed',
  )
  t.same(
    readBackProblems(['app'], [container({ restartCount: 3 })], new Map([['c1', 3]])),
    [],
    'restarts from before the deploy are not this deploy’s',
  )
  t.match(
    readBackProblems(
      ['app'],
      [container({ state: 'restarting', exitCode: 1, restartPolicy: 'always' })],
      none,
    ),
    ['web-app-1 is restarting (exit code 1)'],
  )
  t.match(readBackProblems(['app', 'db'], [container()], none), ['service db has no container'])
  t.same(
    readBackProblems(['job'], [container({ service: 'job', state: 'exited' })], none),
    [],
    'a one-shot job that finished with 0 passes',
  )
  t.match(
    readBackProblems(['job'], [container({ service: 'job', state: 'exited', exitCode: 2 })], none),
    ['web-app-1 is exited (exit code 2)'],
  )
})

t.test('whose failure it is', async (t) => {
  const up = async () => {}
  const down = async () => {
    throw new EngineUnavailable('connect ENOENT /var/run/docker.sock')
  }
  const pull = new ComposeError(
    'Error response from daemon: Get "https://registry.invalid/v2/": dial tcp: lookup registry.invalid: no such host',
  )
  t.equal(
    await failureKind(pull, up),
    'tree',
    'an unknown registry, the engine answers: the tree’s',
  )
  t.equal(await failureKind(pull, down), 'unreachable', 'the engine does not answer: transient')
  t.equal(
    await failureKind(new ComposeError('pull access denied for x, repository does not exist'), up),
    'tree',
  )
  t.equal(await failureKind(new EngineRefused('invalid image reference "A:b:c"'), up), 'tree')
  t.equal(await failureKind(new EngineUnavailable('ECONNREFUSED'), down), 'unreachable')
  t.equal(
    await failureKind(
      new ComposeError(
        'Cannot connect to the Docker daemon at unix:///x. Is the docker daemon running?',
      ),
      up,
    ),
    'unreachable',
    'the CLI could not reach the engine (even if it answers a moment later)',
  )
  t.equal(await failureKind(new ComposeUnavailable('no docker CLI'), up), 'local')
  t.equal(await failureKind(new Error('ENOSPC writing the work tree'), up), 'local')
})

t.test('record updates belong to one run', async (t) => {
  const run = (fields: Partial<SyncRun>): SyncRun => ({
    trigger: 'git',
    startedAt: '2026-12-02T00:00:00.000Z',
    finishedAt: '2026-12-02T00:00:10.000Z',
    durationMs: 10_000,
    toTree: 'b'.repeat(40),
    revision: 'r2',
    result: 'completed',
    servicesChanged: [],
    reason: 'r',
    ...fields,
  })
  const earlier: DeployRecord = {
    stack: 'web',
    deployedTreeHash: 'a'.repeat(40),
    deployedRevision: 'r1',
    lastResult: 'failed',
    error: 'an older failure',
    rolledBackTo: { treeHash: 'a'.repeat(40), revision: 'r1' },
    failedTreeHash: 'c'.repeat(40),
    inProgress: {
      toTree: 'b'.repeat(40),
      revision: 'r2',
      startedAt: '2026-12-02T00:00:00.000Z',
      trigger: 'git',
    },
    history: [],
  }
  const interrupted = withRun(earlier, run({ result: 'interrupted', reason: 'stopped' }))
  t.same(
    [interrupted.error, interrupted.rolledBackTo, interrupted.failedTreeHash],
    [undefined, undefined, undefined],
    'no error, rollback or failed tree of an earlier run stays beside this one',
  )
  t.equal(interrupted.deployedTreeHash, 'a'.repeat(40), 'the deployed tree is unchanged')
  t.equal(interrupted.inProgress, undefined)
  const done = withRun(earlier, run({}))
  t.match(done, {
    deployedTreeHash: 'b'.repeat(40),
    deployedRevision: 'r2',
    lastResult: 'completed',
  })

  const found = withInterruptedRun(
    {
      ...earlier,
      inProgress: {
        ...(earlier.inProgress as NonNullable<DeployRecord['inProgress']>),
        previous: { treeHash: 'a'.repeat(40), revision: 'r1' },
      },
    },
    new Date('2026-12-02T00:01:00.000Z'),
  )
  t.match(found, {
    lastResult: 'interrupted',
    deployedTreeHash: 'a'.repeat(40),
    inProgress: { toTree: 'b'.repeat(40), noted: true },
    history: [
      {
        result: 'interrupted',
        toTree: 'b'.repeat(40),
        fromTree: 'a'.repeat(40),
        reason: /killed or crashed.*rolled back to tree aaaaaaa/,
      },
    ],
  })
  t.equal(withInterruptedRun(found, new Date()), found, 'noted once')
})
