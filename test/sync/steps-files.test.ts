import t from 'tap'
import {
  ComposeError,
  type ComposeModel,
  type HostCheck,
  type InspectedContainer,
  type StackRuntime,
} from '../../services/host/index.js'
import type { TreeRef } from '../../services/sync/records.js'
import { createSyncSteps, type SyncPhase } from '../../services/sync/steps.js'

// Unit tests of how a deploy applies changed mounted files (steps.ts), over
// a scripted runtime that records its calls in order: the services reading
// a changed build-context file are built before `up`; those reading another
// changed file are recreated or restarted after `up`, but only where `up`
// left their containers as they were (same id, same start); a failed deploy
// renews what it touched from the good files before the rollback's `up`
// (which would otherwise wait on a container the bad files broke). The
// real engine runs this in mounted-files.test.ts; here each order and
// each skipped renewal is asserted call by call.

const GOOD: TreeRef = { revision: 'a1b2c3d4e5f6a7b8', treeHash: 'f00d1234abcd5678' }
const NEW_TREE = 'beef5678cafe9012'
const PROJECT = 'proj'

/** A reads B reads C builds; D reads nothing; B asks to be restarted. */
const model: ComposeModel = {
  format: 2,
  name: PROJECT,
  services: { A: {}, B: {}, C: {}, D: {} },
  settings: { services: { B: { on_file_change: 'restart' } } },
  reads: {
    inside: {
      A: [{ path: 'a.conf', kind: 'bind' }],
      B: [{ path: 'b.conf', kind: 'config' }],
      C: [{ path: 'ctx', kind: 'build' }],
      D: [],
    },
    outside: [],
  },
}

const CHANGED = ['README.md', 'a.conf', 'b.conf', 'ctx/Dockerfile']

const FILE_CHANGES = [
  { service: 'A', action: 'recreate', files: ['./a.conf'] },
  { service: 'B', action: 'restart', files: ['./b.conf'] },
  { service: 'C', action: 'rebuild', files: ['./ctx/Dockerfile'] },
]

type Host = Map<string, InspectedContainer>
type Runtime = Parameters<typeof createSyncSteps>[0]['runtime']

function harness(
  options: {
    /** What `up` does to the host; the nth `up` of the run (0: the deploy's, 1: the rollback's). */
    apply?: (host: Host, nth: number, onWaiting: (() => void) | undefined) => Promise<void>
    /** Before the default renewal (which replaces or restarts the containers); may throw. */
    renew?: (host: Host, services: readonly string[], how: string, nth: number) => Promise<void>
    changedFiles?: () => Promise<readonly string[]>
    ping?: () => Promise<void>
    /** Swarm's: configs and secrets named by content, their old versions removed after a success. */
    contentNamed?: Pick<Runtime, 'contentNamed' | 'removeOldVersions'>
  } = {},
) {
  const calls: string[] = []
  const phases: [SyncPhase, string][] = []
  let generation = 0
  const fresh = (service: string): InspectedContainer => ({
    id: `${service}-${++generation}`,
    name: `${PROJECT}-${service}-1`,
    service,
    state: 'running',
    restartCount: 0,
    exitCode: 0,
    restartPolicy: 'no',
    startedAt: `t${generation}`,
  })
  const host: Host = new Map(['A', 'B', 'C', 'D'].map((service) => [service, fresh(service)]))
  let applies = 0
  let renewals = 0
  const runtime: Runtime = {
    validate: async () => {
      calls.push('validate')
    },
    model: async () => {
      calls.push('model')
      return model
    },
    imagesToPull: async () => [],
    pull: async () => {},
    build: async (_dir, services) => {
      calls.push(`build ${services.join(',')}`)
    },
    async apply(_dir, { onWaiting }) {
      calls.push('apply')
      await (options.apply?.(host, applies++, onWaiting) ?? Promise.resolve())
    },
    async renew(_dir, services, how) {
      calls.push(`renew ${how} ${services.join(',')}`)
      await options.renew?.(host, services, how, renewals++)
      for (const service of services) {
        const old = host.get(service) as InspectedContainer
        host.set(
          service,
          how === 'restart' ? { ...old, startedAt: `t${++generation}` } : fresh(service),
        )
      }
    },
    inspect: async () => [...host.values()].map((container) => ({ ...container })),
    ping: options.ping ?? (async () => {}),
    takeDown: async () => {},
    restoreImages: async () => {},
    removeImages: async () => {},
    ...options.contentNamed,
  } satisfies Pick<StackRuntime, keyof Runtime>
  const steps = createSyncSteps({
    workTrees: {
      ensure: async (stack, tree) => {
        calls.push(`ensure ${tree}`)
        return { dir: `/stacks/${stack}`, written: false, skipped: [] }
      },
      treeRecord: () => ({ get: async () => undefined, set: async () => {} }),
    },
    runtime,
    changedFiles: async (_path, from, to) => {
      calls.push(`changedFiles ${from}..${to}`)
      return (await options.changedFiles?.()) ?? CHANGED
    },
    stacksDir: '/stacks',
    waitSeconds: 5,
    signal: new AbortController().signal,
  })
  /** A deploy of NEW_TREE, by default from containers created from GOOD. */
  const run = (
    from: { rollbackTo: TreeRef | undefined; checkBefore?: HostCheck } = { rollbackTo: GOOD },
  ) =>
    steps.run({
      path: 'web',
      tree: NEW_TREE,
      rollbackTo: from.rollbackTo,
      checkBefore: from.checkBefore,
      phase: (name, message) => phases.push([name, message]),
    })
  /** The calls that change the host, in order. */
  const changes = () => calls.filter((call) => /^(build|apply|renew)/.test(call))
  return { run, calls, changes, phases, host, replace: fresh }
}

t.test('a deploy rebuilds before up and renews what up left as it was', async (t) => {
  const h = harness({
    // Compose recreates C (its image was rebuilt) and A (say its configuration changed too).
    apply: async (host) => {
      host.set('C', h.replace('C'))
      host.set('A', h.replace('A'))
    },
  })
  const checkBefore: HostCheck = {
    status: 'out_of_sync',
    reason: 'service D would be recreated',
    project: PROJECT,
    plan: [{ service: 'D', container: 'proj-D-1', action: 'recreate' }],
    containers: [],
    checkedAt: '',
  }
  const outcome = await h.run({ rollbackTo: GOOD, checkBefore })
  t.same(h.changes(), ['build C', 'apply', 'renew restart B'], 'A and C were replaced by up')
  t.ok(
    h.calls.includes(`changedFiles ${GOOD.treeHash}..${NEW_TREE}`),
    'compared with the tree the containers were created from',
  )
  t.match(outcome, { result: 'completed', project: PROJECT })
  t.same(outcome.fileChanges, FILE_CHANGES)
  t.same(outcome.servicesChanged, ['D', 'A', 'B', 'C'], 'Compose’s plan, then the files’ services')
  t.equal(
    outcome.reason,
    'deployed tree beef567: changed D, A, B, C; A recreated: ./a.conf changed; B restarted: ./b.conf changed; C rebuilt and recreated: ./ctx/Dockerfile changed',
  )
  t.same(
    h.phases.map(([name]) => name),
    ['validate', 'pull', 'build', 'up', 'renew'],
  )
})

t.test('every container up left as it was is renewed, each the way it asks', async (t) => {
  const h = harness({ apply: async (host) => void host.set('C', h.replace('C')) })
  const outcome = await h.run()
  t.same(h.changes(), ['build C', 'apply', 'renew recreate A', 'renew restart B'])
  t.match(outcome, { result: 'completed', fileChanges: FILE_CHANGES })
  t.match(outcome.reason, /; A recreated: \.\/a\.conf changed; /)
  t.same(
    h.phases.filter(([name]) => name === 'build' || name === 'renew'),
    [
      ['build', 'rebuilding C: ./ctx/Dockerfile changed'],
      ['renew', 'recreating A: ./a.conf changed'],
      ['renew', 'restarting B: ./b.conf changed'],
    ],
    'each phase names the service and its files once',
  )
})

t.test('a container up restarted (same id, new start) is not renewed again', async (t) => {
  const h = harness({
    apply: async (host) => {
      const b = host.get('B') as InspectedContainer
      host.set('B', { ...b, startedAt: 'restarted by up' })
    },
  })
  await h.run()
  t.same(h.changes(), ['build C', 'apply', 'renew recreate A,C'])
})

t.test('no tree to compare with: nothing is compared, built or renewed', async (t) => {
  const h = harness()
  const outcome = await h.run({ rollbackTo: undefined })
  t.notOk(
    h.calls.some((call) => call.startsWith('changedFiles')),
    'changedFiles not asked',
  )
  t.same(h.changes(), ['apply'])
  t.equal(outcome.result, 'completed')
  t.equal(outcome.fileChanges, undefined)
  t.equal(outcome.reason, 'deployed tree beef567: changed A, B, C, D')

  const same = harness()
  await same.run({ rollbackTo: { revision: 'r', treeHash: NEW_TREE } })
  t.same(same.changes(), ['apply'], 'the containers were created from this very tree')
  t.notOk(same.calls.some((call) => call.startsWith('changedFiles')))
})

t.test('changed files cannot be listed: docker-cd fails before the host is touched', async (t) => {
  const h = harness({
    changedFiles: async () => {
      throw new Error('git timed out')
    },
  })
  const outcome = await h.run()
  t.ok(h.calls.includes(`changedFiles ${GOOD.treeHash}..${NEW_TREE}`), 'it was asked')
  t.same(
    h.changes(),
    [],
    'nothing applied: a deploy that cannot tell what changed would say synced falsely',
  )
  t.equal(outcome.result, 'failed')
  t.equal(outcome.failure, 'local', "docker-cd's own failure: retried with back-off")
  t.match(outcome.reason, /comparing with the deployed tree failed: git timed out/)
})

t.test('a failed wait is explained by the read-back, then rolled back', async (t) => {
  const h = harness({
    apply: async (host, nth, onWaiting) => {
      if (nth > 0) return // the rollback's up: the good files were renewed before it
      host.set('C', h.replace('C'))
      // A, recreated by up, exits and is restarted by the engine.
      host.set('A', {
        ...h.replace('A'),
        state: 'restarting',
        restartCount: 2,
        exitCode: 1,
        restartPolicy: 'always',
      })
      onWaiting?.()
      throw new ComposeError('dependency failed to start: container proj-A-1 is unhealthy')
    },
  })
  const outcome = await h.run()
  t.equal(outcome.result, 'failed')
  t.equal(outcome.failure, 'tree')
  t.equal(outcome.step, 'health')
  t.equal(
    outcome.error,
    'proj-A-1 exits and is restarted (2 restarts during the deploy, last exit code 1) (Compose: dependency failed to start: container proj-A-1 is unhealthy)',
  )
  t.match(outcome.reason, /^read-back failed: proj-A-1 exits and is restarted/)
  t.same(outcome.rolledBackTo, GOOD)
  t.same(outcome.fileChanges, FILE_CHANGES)
  t.same(
    h.changes(),
    ['build C', 'apply', 'build C', 'renew recreate A,C', 'apply'],
    'rollback: rebuilt, then A and C (touched by the failed up) renewed, then up; B untouched',
  )
  const rollbackAt = h.calls.indexOf(`ensure ${GOOD.treeHash}`)
  t.ok(rollbackAt > h.calls.indexOf('apply'), 'the good tree is written after the failed up')
  t.ok(
    h.calls.indexOf(`changedFiles ${NEW_TREE}..${GOOD.treeHash}`) > rollbackAt,
    'the rollback compares the failed tree with the good one',
  )
  t.equal(h.host.get('A')?.state, 'running', 'A runs from the good files again')
})

t.test('a failed renewal is the tree’s failure: rolled back', async (t) => {
  const renewFails = async (
    host: Host,
    _services: readonly string[],
    _how: string,
    nth: number,
  ) => {
    if (nth > 0) return
    host.set('A', h.replace('A')) // recreated, then its wait failed
    throw new ComposeError('container proj-A-1 is unhealthy')
  }
  const h = harness({
    apply: async (host) => void host.set('C', h.replace('C')),
    renew: renewFails,
  })
  const outcome = await h.run()
  t.match(outcome, {
    result: 'failed',
    failure: 'tree',
    step: 'health',
    reason: 'up failed: container proj-A-1 is unhealthy',
  })
  t.same(outcome.rolledBackTo, GOOD)
  t.same(h.changes(), [
    'build C',
    'apply',
    'renew recreate A',
    'build C',
    'renew recreate A,C',
    'apply',
  ])

  const down = harness({
    apply: async (host) => void host.set('C', down.replace('C')),
    renew: async (host, services, how, nth) => {
      if (nth === 0) throw new ComposeError('error during connect: EOF')
      await renewFails(host, services, how, nth)
    },
    ping: async () => {
      throw new Error('connect ENOENT /var/run/docker.sock')
    },
  })
  const unreachable = await down.run()
  t.match(unreachable, { result: 'failed', failure: 'unreachable' })
  t.equal(unreachable.rolledBackTo, undefined, 'the engine does not answer: no rollback')
  t.same(down.changes(), ['build C', 'apply', 'renew recreate A'])
})

t.test('a rollback with no changed file read by a service builds and renews nothing', async (t) => {
  const h = harness({
    changedFiles: async () => ['README.md'],
    apply: async (host, nth, onWaiting) => {
      if (nth > 0) return void host.set('A', h.replace('A')) // the good configuration again
      host.set('A', { ...h.replace('A'), state: 'exited', exitCode: 1 })
      onWaiting?.()
      throw new ComposeError('container proj-A-1 exited (1)')
    },
  })
  const outcome = await h.run()
  t.match(outcome, { result: 'failed', failure: 'tree', rolledBackTo: GOOD })
  t.equal(outcome.fileChanges, undefined)
  t.same(
    h.changes(),
    ['apply', 'apply'],
    'no build of an empty list (`docker compose build` without services builds them all)',
  )
})

t.test('Swarm: a changed config file is rolled by up alone, never renewed too', async (t) => {
  const removed: string[] = []
  const swarm = {
    contentNamed: ['config', 'secret'] as const,
    async removeOldVersions(dir: string) {
      removed.push(dir)
      return ['removed the old config b version 1a2b3c4d (proj_b_1a2b3c4d)']
    },
  }
  // B's config has a new name: its spec changed, up replaced it (but say it did not: no renewal either way).
  const h = harness({
    contentNamed: swarm,
    apply: async (host) => void host.set('C', h.replace('C')),
  })
  const outcome = await h.run()
  t.same(h.changes(), ['build C', 'apply', 'renew recreate A'], 'A’s bind mount only')
  t.same(
    outcome.fileChanges?.map((change) => change.service),
    ['A', 'C'],
    'B’s config is not a changed mounted file: its new name changed the spec',
  )
  t.same(removed, ['/stacks/web'], 'old versions removed once the deploy passed')
  t.match(outcome.reason, /; removed the old config b version 1a2b3c4d \(proj_b_1a2b3c4d\)$/)

  removed.length = 0
  const failing = harness({
    contentNamed: swarm,
    apply: async (host, nth, onWaiting) => {
      if (nth > 0) return void host.set('B', failing.replace('B')) // the good config again
      host.set('B', { ...failing.replace('B'), state: 'exited', exitCode: 1 })
      onWaiting?.()
      throw new ComposeError('service B: Swarm paused the update')
    },
  })
  const failed = await failing.run()
  t.match(failed, { result: 'failed', failure: 'tree', rolledBackTo: GOOD })
  t.same(
    failing.changes(),
    ['build C', 'apply', 'build C', 'apply'],
    'the rollback’s up rolls B back to the good config: no renewal of the failed spec first',
  )
  t.same(removed, [], 'nothing removed after a failed deploy')
})
