import t from 'tap'
import type { EngineEvent } from '../../services/host/docker-engine.js'
import { createEngineWatch } from '../../services/host/engine-watch.js'
import {
  createSettleWatch,
  replicaWords,
  type SwarmNode,
  type SwarmService,
  type SwarmTask,
  serviceViews,
  swarmDeployedFrom,
  swarmHealth,
} from '../../services/host/index.js'
import { swarmServicesSection } from '../../services/ui/swarm-services.js'
import { waitFor } from '../helpers/build.js'

// A Swarm stack's status, pure: health when replicas are missing because a
// node is down (its tasks still read `running`) or the scheduler finds no
// node for them (`no suitable node`), the reason in words, each service's
// view with its tasks per node, its rendering, and the re-check of a stack
// that is not healthy (tasks have no events on the manager) or after a
// node event (every stack).

const NO_NODE =
  'no suitable node (max replicas per node limit exceed; scheduling constraints not satisfied on 1 node; 1 node not available for new tasks)'

const service: SwarmService = {
  id: 's1',
  fullName: 'shop_web',
  name: 'web',
  image: 'web:1',
  replicas: 4,
  env: [],
  labels: {},
  specKey: 'k',
}

const node = (id: string, hostname: string, state = 'ready'): SwarmNode => ({
  id,
  hostname,
  role: id === 'm' ? 'manager' : 'worker',
  state,
  addr: id === 'm' ? '127.0.0.1' : '127.0.0.2',
  availability: 'active',
})

const task = (slot: number, nodeId: string, fields: Partial<SwarmTask> = {}): SwarmTask => ({
  id: `t${slot}${nodeId}`,
  serviceId: 's1',
  slot,
  nodeId,
  desired: 'running',
  state: 'running',
  message: 'started',
  timestamp: `2026-01-01T00:00:0${slot}Z`,
  specKey: 'k',
  ...fields,
})

const up = [node('m', 'mgr'), node('w', 'wkr')]
const workerDown = [node('m', 'mgr'), node('w', 'wkr', 'down')]
const onBoth = [task(1, 'm'), task(2, 'w'), task(3, 'm'), task(4, 'w')]

t.test('health with every replica running, and with a node down', async (t) => {
  t.equal(swarmHealth([service], onBoth, up), 'healthy')
  t.equal(
    swarmHealth([service], onBoth, workerDown),
    'degraded',
    'tasks on a node that is down are not running, whatever they last said',
  )
  t.same(
    replicaWords([service], onBoth, (id) => id, workerDown),
    ['service web: 2/4 replicas running (2 on node wkr 127.0.0.2, which is down)'],
  )
  t.equal(swarmHealth([service], onBoth), 'healthy', 'nodes not read: tasks taken at their word')
})

t.test('pending for want of a node is degraded, with the scheduler’s words', async (t) => {
  // The orchestrator replaced the tasks of the node that went down: new ones wait for a node.
  const rescheduled = [
    task(1, 'm'),
    task(3, 'm'),
    task(2, 'w', { desired: 'shutdown' }),
    task(4, 'w', { desired: 'shutdown' }),
    task(2, '', { state: 'pending', error: NO_NODE, message: 'pending task scheduling' }),
    task(4, '', { state: 'pending', error: NO_NODE, message: 'pending task scheduling' }),
  ]
  t.equal(swarmHealth([service], rescheduled, workerDown), 'degraded')
  t.same(
    replicaWords([service], rescheduled, (id) => id, workerDown),
    [`service web: 2/4 replicas running (2 pending: ${NO_NODE})`],
  )
  // Pending on its way (no scheduler complaint) is progressing, as a task starting.
  t.equal(
    swarmHealth(
      [service],
      [
        ...rescheduled.slice(0, 4),
        task(2, 'w', { state: 'assigned' }),
        task(4, 'w', { state: 'pending' }),
      ],
      up,
    ),
    'progressing',
  )
  t.equal(
    swarmHealth([service], [...onBoth.slice(0, 3), task(4, 'w', { state: 'failed' })], up),
    'degraded',
  )
})

t.test('each service with its tasks per node', async (t) => {
  const views = serviceViews(
    [{ ...service, updateStatus: { state: 'completed', message: 'update completed' } }],
    [
      task(3, 'm'),
      task(1, 'm'),
      task(2, 'w', { desired: 'shutdown' }),
      task(2, '', { state: 'pending', error: NO_NODE }),
      task(4, 'w'),
    ],
    workerDown,
  )
  t.same(views, [
    {
      name: 'web',
      mode: 'replicated',
      replicas: { running: 2, desired: 4 },
      updateState: 'completed',
      updateMessage: 'update completed',
      tasks: [
        {
          slot: 1,
          node: 'mgr 127.0.0.1',
          nodeId: 'm',
          state: 'running',
          desiredState: 'running',
          since: '2026-01-01T00:00:01Z',
        },
        {
          slot: 2,
          node: '',
          state: 'pending',
          desiredState: 'running',
          error: NO_NODE,
          since: '2026-01-01T00:00:02Z',
        },
        {
          slot: 3,
          node: 'mgr 127.0.0.1',
          nodeId: 'm',
          state: 'running',
          desiredState: 'running',
          since: '2026-01-01T00:00:03Z',
        },
        {
          slot: 4,
          node: 'wkr 127.0.0.2',
          nodeId: 'w',
          nodeState: 'down',
          state: 'running',
          desiredState: 'running',
          since: '2026-01-01T00:00:04Z',
        },
      ],
    },
  ])
  t.same(
    serviceViews(
      [service],
      [task(1, 'm'), task(2, 'x')],
      [node('m', 'vm'), { ...node('x', 'vm'), addr: '127.0.0.1' }],
    )[0]?.tasks.map((task) => task.node),
    ['vm 127.0.0.1 (m)', 'vm 127.0.0.1 (x)'],
    'two nodes of one name and address are told apart by id',
  )
  const global = serviceViews(
    [{ ...service, replicas: undefined }],
    [task(0, 'm'), task(0, 'w')],
    up,
  )
  t.match(global[0], { mode: 'global', replicas: { running: 2, desired: 2 } })
  const html = swarmServicesSection(views)
  t.match(html, /<td class="replicas"><span class="badge degraded">2\/4<\/span>/)
  t.match(html, /not placed.*no suitable node/)
  t.match(html, /wkr 127\.0\.0\.2 <span class="badge down">down<\/span>/)
  t.notMatch(
    swarmServicesSection(views.map((view) => ({ ...view, name: '<b>' }))),
    /<b>/,
    'escaped',
  )
})

t.test('a stack not healthy is looked at again, less and less often, until it is', async (t) => {
  const clock = t.capture(globalThis, 'setTimeout', ((fn: () => void, ms: number) => {
    waits.push({ fn, ms })
    return { unref() {} } as unknown as NodeJS.Timeout
  }) as typeof setTimeout)
  t.capture(globalThis, 'clearTimeout', (() => {}) as typeof clearTimeout)
  const waits: { fn: () => void; ms: number }[] = []
  const rechecked: string[] = []
  const settle = createSettleWatch({
    recheck: (path) => rechecked.push(path),
    initialMs: 100,
    maxMs: 350,
  })
  settle.checked('a', { health: 'healthy' })
  t.equal(waits.length, 0, 'a healthy stack costs nothing')
  for (let i = 0; i < 4; i++) settle.checked('a', { health: 'degraded' })
  t.same(
    waits.map((w) => w.ms),
    [100, 200, 350, 350],
    'doubling, bounded',
  )
  waits.at(-1)?.fn()
  t.same(rechecked, ['a'])
  settle.reset()
  settle.checked('a', { health: 'progressing' })
  t.equal(waits.at(-1)?.ms, 100, 'a node event starts the waits short again')
  settle.checked('a', { health: 'healthy' })
  settle.checked('a', { health: 'degraded' })
  t.equal(waits.at(-1)?.ms, 100, 'healthy in between: from the start')
  settle.close()
  const before = waits.length
  settle.checked('a', { health: 'degraded' })
  t.equal(waits.length, before, 'nothing after close')
  t.ok(clock)
})

t.test('who deployed a stack: docker-cd’s work-tree label, or someone else', async (t) => {
  t.same(swarmDeployedFrom({ containers: [] }, '/stacks/a'), { kind: 'nothing' })
  t.same(swarmDeployedFrom({ containers: [{ workingDir: '/stacks/a' }] }, '/stacks/a'), {
    kind: 'this-tree',
  })
  t.same(swarmDeployedFrom({ containers: [{ workingDir: '/elsewhere/a' }] }, '/stacks/a'), {
    kind: 'elsewhere',
    workingDir: '/elsewhere/a',
  })
  t.match(swarmDeployedFrom({ containers: [{}] }, '/stacks/a'), {
    kind: 'elsewhere',
    workingDir: /docker stack deploy without docker-cd's io\.docker-cd\.work-tree label/,
  })
})

t.test('a node event re-checks every stack, once per burst', async (t) => {
  let emit: ((event: EngineEvent) => void) | undefined
  const calls: string[] = []
  const watch = createEngineWatch({
    engine: {
      ping: async () => {},
      events: (handlers) =>
        new Promise<void>((resolve) => {
          handlers.onOpen()
          emit = handlers.onEvent
          handlers.signal.addEventListener('abort', () => resolve())
        }),
    },
    onProjects: (projects) => calls.push(`projects ${[...projects].join(',')}`),
    onNodes: () => calls.push('nodes'),
    onLost: () => t.fail('not lost'),
    onReconnected: () => t.fail('never lost'),
    debounceMs: 20,
  })
  t.teardown(() => watch.close())
  await waitFor(() => emit, 'the subscription')
  emit?.({ project: 'shop', action: 'update', container: 'shop_web' })
  // `remove` is no container action worth a look, but a node that left moves tasks.
  emit?.({ project: '', action: 'remove', container: 'vm', node: true })
  emit?.({ project: '', action: 'update', container: 'vm', node: true })
  await waitFor(() => calls.length > 0, 'the burst')
  t.same(calls, ['nodes'], 'every stack, which covers the service event too')
  emit?.({ project: 'shop', action: 'update', container: 'shop_web' })
  await waitFor(() => calls.length > 1, 'the next burst')
  t.same(calls[1], 'projects shop')
})
