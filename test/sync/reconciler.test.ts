import t from 'tap'
import {
  type Compose,
  ComposeError,
  createComposeRuntime,
  type HostCheck,
} from '../../services/host/index.js'
import type { Snapshot } from '../../services/refresh/index.js'
import {
  createDeployRecords,
  createSyncReconciler,
  type DeployRecord,
} from '../../services/sync/index.js'
import { waitFor } from '../helpers/build.js'
import { tempDir } from '../helpers/temp-dir.js'

// The reconciler's lifecycle over a scripted host (pure logic: the real
// engine and Compose are in apply.test.ts): the queue's order, who gets
// which answer, engine failures retried with back-off, shutdown.

/** The reason last published for a stack (what its status shows). */
const lastReason = (statuses: [string, string, string][], path: string) =>
  statuses.filter(([stack]) => stack === path).at(-1)?.[2]

const treeOf = (path: string) => Buffer.from(path.padEnd(20, '-')).toString('hex').slice(0, 40)

function harness(options: {
  stacks: string[]
  up?: (dir: string, signal?: AbortSignal) => Promise<void>
  services?: Record<string, { image?: string; pull_policy?: string; build?: true }>
  present?: (image: string) => boolean
  /** The engine's `/_ping` (default: it answers). */
  ping?: () => Promise<void>
  /** Records as a previous process left them. */
  records?: DeployRecord[]
}) {
  const pulls: string[][] = []
  const checks = new Map<string, HostCheck>()
  const hostStatus = new Map<string, HostCheck['status']>()
  const ups: string[] = []
  const statuses: [string, string, string][] = []
  const snapshot = {
    revision: 'f'.repeat(40),
    stacks: options.stacks.map((path) => ({ path, treeOid: treeOf(path) })),
  } as unknown as Snapshot
  let onCheck: (path: string, check: HostCheck) => void = () => {}
  const checkNow = (path: string) => {
    const status = hostStatus.get(path) ?? 'missing'
    const check: HostCheck = {
      status,
      reason: status,
      project: path,
      plan: [],
      containers: [],
      checkedAt: '',
    }
    checks.set(path, check)
    onCheck(path, check)
  }
  const records = createDeployRecords(tempDir('docker-cd-records-'))
  for (const record of options.records ?? []) void records.set(record.stack, () => record)
  const reconciler = createSyncReconciler({
    mode: 'apply',
    // One at a time, by name: the order these tests assert (deploys in parallel: test/sync/order.test.ts).
    concurrency: 1,
    selfHeal: false,
    adopt: false,
    prune: false,
    waitSeconds: 5,
    stacksDir: '/stacks',
    current: () => snapshot,
    monitor: {
      state: (path) => checks.get(path),
      idle: async () => {},
      async exclusive(path, work) {
        const result = await work()
        checkNow(path)
        return { result, check: checks.get(path) }
      },
    },
    workTrees: {
      ensure: async (stack) => ({ dir: `/stacks/${stack}`, written: false, skipped: [] }),
      treeRecord: () => ({ get: async () => undefined, set: async () => {} }),
    },
    runtime: createComposeRuntime({
      compose: {
        validate: async () => {},
        model: async (dir: string) => ({
          name: dir.split('/').at(-1) as string,
          services: options.services ?? { app: {} },
          settings: null,
        }),
        pull: async (_dir: string, services: readonly string[]) => {
          pulls.push([...services])
        },
        async up(dir: string, _wait: number, signal?: AbortSignal) {
          ups.push(dir.split('/').at(-1) as string)
          await (options.up?.(dir, signal) ?? Promise.resolve())
          hostStatus.set(dir.split('/').at(-1) as string, 'synced')
        },
        // No file changes here (changedFiles: []): build and renew are asked for no service.
        build: async () => {},
        renew: async () => {},
        down: async () => {},
      } as unknown as Compose,
      engine: {
        imagePresent: async (image: string) => options.present?.(image) ?? true,
        ping: options.ping ?? (async () => {}),
        // Every service runs, once `up` ran: the read-back passes.
        inspectProject: async (project: string) =>
          hostStatus.get(project) === 'synced'
            ? Object.keys(options.services ?? { app: {} }).map((service) => ({
                id: `${project}-${service}`,
                name: `${project}-${service}-1`,
                service,
                state: 'running',
                restartCount: 0,
                exitCode: 0,
                restartPolicy: 'no',
                startedAt: '',
              }))
            : [],
        projectContainers: async () => ({ containers: [], fingerprint: '' }),
        tagImage: async () => {},
        removeUnnamedImage: async () => false,
      },
    }),
    records,
    git: { keepTree: async () => {}, releaseTree: async () => {} },
    changedFiles: async () => [],
    setStatus: (path, status, reason) => statuses.push([path, status, reason]),
    log: { info() {}, warn() {}, error() {} },
    retryBackoff: { initialMs: 20, maxMs: 20 },
    shutdownGraceMs: 50,
  })
  onCheck = (path, check) => reconciler.hostChecked(path, check)
  return { reconciler, checkNow, ups, pulls, statuses, hostStatus, records }
}

t.test('stacks are deployed one at a time, by name, once each', async (t) => {
  const h = harness({ stacks: ['c', 'a', 'b'] })
  for (const path of ['c', 'b', 'a']) h.checkNow(path)
  await h.reconciler.idle()
  t.same(h.ups, ['a', 'b', 'c'])
  h.checkNow('a') // in sync now: nothing more
  await h.reconciler.idle()
  t.same(h.ups, ['a', 'b', 'c'])
  t.match(h.records.get('a'), { deployedTreeHash: treeOf('a'), lastResult: 'completed' })
})

t.test('a request during a run is answered by the run after it', async (t) => {
  let release = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const h = harness({ stacks: ['a'], up: () => gate })
  const first = h.reconciler.requestSync('a')
  t.equal(first.status, 'syncing')
  await new Promise((resolve) => setImmediate(resolve))
  const second = h.reconciler.requestSync('a')
  t.equal(second.status, 'queued')
  t.ok(
    h.statuses.some(([, status]) => status === 'syncing'),
    'syncing while it runs',
  )
  release()
  t.match(await first.done, { status: 'completed' })
  t.match(await second.done, { status: 'completed' })
  t.same(h.ups, ['a', 'a'], 'the second request ran a second time')
})

t.test('an engine failure is retried with back-off; a failure of the tree is not', async (t) => {
  let failures = 1
  const h = harness({
    stacks: ['a', 'b'],
    up: async (dir) => {
      if (dir.endsWith('/b')) throw new ComposeError('service app: invalid mount')
      if (failures-- > 0) throw new ComposeError('Cannot connect to the Docker daemon at unix:///x')
    },
  })
  h.checkNow('a')
  h.checkNow('b')
  await h.reconciler.idle()
  t.match(h.records.get('a'), { lastResult: 'failed' })
  t.equal(h.records.get('a')?.failedTreeHash, undefined, 'not marked as a failed tree')
  t.match(lastReason(h.statuses, 'a'), /retried in 0s/)
  t.match(h.records.get('b'), { failedTreeHash: treeOf('b') })
  // The retry is due after its back-off: waited for, not slept on.
  await waitFor(() => h.records.get('a')?.lastResult === 'completed', 'the retry of a')
  await h.reconciler.idle()
  t.match(h.records.get('a'), {
    lastResult: 'completed',
    history: [{ trigger: 'retry' }, { trigger: 'git' }],
  })
  t.same(
    h.ups.filter((stack) => stack === 'b'),
    ['b'],
    'the failed tree ran once',
  )
  h.checkNow('b')
  await h.reconciler.idle()
  t.same(
    h.ups.filter((stack) => stack === 'b'),
    ['b'],
    'and not again',
  )
})

t.test('whose failure: the engine is asked (ping), not Compose’s wording', async (t) => {
  // The same words Compose prints for an unknown registry and for an engine it cannot reach.
  const noSuchHost = 'dial tcp: lookup registry.invalid: no such host'
  let engineAnswers = false
  const h = harness({
    stacks: ['a', 'b'],
    up: async (dir) => {
      if (dir.endsWith('/a') || !engineAnswers) throw new ComposeError(noSuchHost)
    },
    ping: async () => {
      if (!engineAnswers) throw new Error('connect ECONNREFUSED /var/run/docker.sock')
    },
  })
  h.checkNow('b')
  await h.reconciler.idle()
  t.equal(h.records.get('b')?.failedTreeHash, undefined, 'engine down: not the tree’s failure')
  t.match(lastReason(h.statuses, 'b'), /retried in 0s/)
  engineAnswers = true
  while (h.records.get('b')?.lastResult !== 'completed')
    await new Promise((resolve) => setTimeout(resolve, 5))
  t.match(h.records.get('b'), { lastResult: 'completed' }, 'retried once the engine answers')
  h.checkNow('a')
  await h.reconciler.idle()
  t.match(
    h.records.get('a'),
    { lastResult: 'failed', failedTreeHash: treeOf('a'), error: /no such host/ },
    'the engine answers: the tree’s failure, not retried',
  )
})

t.test('shutdown: a deploy gets the grace period, then Compose is stopped', async (t) => {
  let aborted = false
  const h = harness({
    stacks: ['a'],
    up: (_dir, signal) =>
      new Promise<void>((_resolve, reject) =>
        signal?.addEventListener('abort', () => {
          aborted = true
          reject(new ComposeError('stopped'))
        }),
      ),
  })
  const run = h.reconciler.requestSync('a')
  await new Promise((resolve) => setImmediate(resolve))
  await h.reconciler.close()
  t.ok(aborted, 'Compose was told to stop')
  t.match(await run.done, { status: 'failed' })
  t.match(h.records.get('a'), {
    lastResult: 'interrupted',
    history: [{ result: 'interrupted' }],
    inProgress: { toTree: treeOf('a'), noted: true },
  })
  t.equal(
    h.records.get('a')?.failedTreeHash,
    undefined,
    'an interrupted tree is tried again after the restart',
  )
})

t.test('a deploy found in progress: in the history, then run again and rolled back', async (t) => {
  const good = { treeHash: 'e'.repeat(40), revision: '1'.repeat(40) }
  let ups = 0
  const h = harness({
    stacks: ['a'],
    records: [
      {
        stack: 'a',
        project: 'a',
        deployedTreeHash: good.treeHash,
        deployedRevision: good.revision,
        lastResult: 'completed',
        history: [],
        inProgress: {
          toTree: treeOf('a'),
          revision: 'f'.repeat(40),
          previous: good,
          startedAt: '2026-12-02T00:00:00.000Z',
          trigger: 'git',
        },
      },
    ],
    // The interrupted tree fails its health wait again; the rollback's `up` works.
    up: async () => {
      if (ups++ === 0) throw new ComposeError('container a-app-1 is unhealthy')
    },
  })
  t.match(h.records.get('a'), {
    lastResult: 'interrupted',
    history: [{ result: 'interrupted', toTree: treeOf('a'), reason: /killed or crashed/ }],
  })
  h.hostStatus.set('a', 'synced') // Compose's plan: Running
  h.checkNow('a')
  await h.reconciler.idle()
  t.same(h.ups, ['a', 'a'], 'run again (up), then the rollback (up)')
  t.match(h.records.get('a'), {
    deployedTreeHash: good.treeHash,
    lastResult: 'failed',
    rolledBackTo: good,
    failedTreeHash: treeOf('a'),
    history: [
      { trigger: 'recover', result: 'failed', rolledBackTo: good },
      { result: 'interrupted' },
    ],
  })
  t.equal(h.records.get('a')?.inProgress, undefined, 'settled: no longer in progress')
})

t.test('what is pulled follows each service’s pull_policy', async (t) => {
  const h = harness({
    stacks: ['a'],
    services: {
      absent: { image: 'img/absent:1' },
      present: { image: 'img/present:1' },
      always: { image: 'img/present:1', pull_policy: 'always' },
      never: { image: 'img/absent:1', pull_policy: 'never' },
      built: { image: 'img/absent:1', build: true },
      buildPolicy: { image: 'img/absent:1', pull_policy: 'build' },
      noImage: { build: true },
    },
    present: (image) => image === 'img/present:1',
  })
  t.match(await h.reconciler.requestSync('a').done, { status: 'completed' })
  t.same(
    h.pulls,
    [['absent', 'always']],
    'missing images and pull_policy: always; never, build and buildable ones not',
  )
})
