import t from 'tap'
import {
  type SwarmService,
  type SwarmTask,
  serviceRollout,
  serviceSpecHash,
  specDifferences,
  stackFile,
  swarmProblems,
  TargetRefused,
  targetFor,
} from '../../services/host/index.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { serviceEnv, startService } from '../helpers/service.js'
import { HOST_NETWORK, startSwarm, swarmUnavailable } from '../helpers/swarm.js'
import { tempDir } from '../helpers/temp-dir.js'

// SYNC_TARGET and what the Swarm runtime refuses: the decision per engine
// role (pure), the stack file Swarm is given and the refusals (pure), a
// rollout's state from a service and its tasks (pure); then on a real
// two-node swarm: a worker is refused at startup with one line naming
// SYNC_TARGET (the built server, as an operator starts it), and a stack
// Swarm cannot run is `failed` with the reason before anything is touched.

t.test('SYNC_TARGET per engine role', async (t) => {
  const manager = { kind: 'manager' } as const
  const worker = { kind: 'worker' } as const
  const plain = { kind: 'none', state: 'inactive' } as const
  t.equal(targetFor('auto', manager, 'the engine'), 'swarm')
  t.equal(targetFor('auto', plain, 'the engine'), 'compose')
  t.equal(targetFor('compose', manager, 'the engine'), 'compose', 'compose on a manager when asked')
  t.equal(targetFor('swarm', manager, 'the engine'), 'swarm')
  t.throws(() => targetFor('auto', worker, 'the engine'), TargetRefused)
  t.throws(() => targetFor('swarm', worker, 'the engine'), /SYNC_TARGET=swarm: .* worker/)
  t.throws(() => targetFor('swarm', plain, 'the engine'), /not an active Swarm manager .*inactive/)
})

t.test('what Swarm is given, and what it cannot run', async (t) => {
  const rendered = {
    name: 'shop',
    services: {
      web: {
        image: 'web:1',
        entrypoint: null,
        deploy: { replicas: 2, labels: ['tier=front'] },
      },
    },
    networks: { hostnet: { name: 'host', external: true, ipam: {} } },
  }
  const file = JSON.parse(stackFile(rendered, '/stacks/shop'))
  t.notOk('name' in file, 'no top-level name: (the stack name is the argument)')
  t.notOk('entrypoint' in file.services.web, 'unset keys left out')
  t.same(file.networks.hostnet, { name: 'host', external: true }, 'no empty options')
  t.same(file.services.web.deploy.labels, {
    tier: 'front',
    'io.docker-cd.work-tree': '/stacks/shop',
    // The hash of the rendered service: drift of what is not compared field by field.
    'io.docker-cd.spec-hash': serviceSpecHash(rendered.services.web),
  })
  t.same(swarmProblems(rendered), [])
  t.match(
    swarmProblems({
      services: {
        app: { build: { context: '.' }, image: 'app' },
        db: { image: 'db', container_name: 'db', network_mode: 'host' },
      },
    }),
    [/service app has build: \(Swarm builds nothing/, /container_name/, /network_mode/],
  )
})

/** A service of stack `shop` named `web`, 2 replicas of web:1, as the Engine API reads it. */
const swarmService = (fields: Partial<SwarmService>): SwarmService => ({
  id: 's1',
  fullName: 'shop_web',
  name: 'web',
  image: 'web:1',
  replicas: 2,
  env: [],
  labels: {},
  specKey: 'k',
  ...fields,
})

t.test('drift of a deployed service, in words', async (t) => {
  const deployed = swarmService({ image: 'web:1@sha256:abc', env: ['A=1', 'TOKEN=secret'] })
  const tree = {
    services: {
      web: { image: 'web:1', deploy: { replicas: 2 }, environment: { A: '1', TOKEN: 'secret' } },
    },
  }
  t.same(specDifferences(tree, [deployed]), [], 'a digest the CLI pinned is not drift')
  const changed = specDifferences(
    {
      services: {
        web: { image: 'web:2', deploy: { replicas: 4 }, environment: { A: '1', TOKEN: 'other' } },
      },
    },
    [deployed],
  )
  t.same(
    changed.map((d) => d.words),
    [
      'runs image web:1, Git says web:2',
      'has 2 replicas, Git says 4',
      'environment differs from Git (TOKEN)',
    ],
    'values of the environment are never shown',
  )
})

t.test('a rollout from a service and its tasks', async (t) => {
  const service = swarmService({ specKey: 'new' })
  const task = (fields: Partial<SwarmTask>): SwarmTask => ({
    id: 't',
    serviceId: 's1',
    slot: 1,
    nodeId: 'n1',
    desired: 'running',
    state: 'running',
    message: 'started',
    timestamp: '2026-01-01T00:00:01Z',
    specKey: 'new',
    ...fields,
  })
  t.match(serviceRollout(service, [task({}), task({ slot: 2, specKey: 'old' })]), {
    kind: 'rolling',
    words: 'service web: 1/2 replicas running',
  })
  t.same(serviceRollout(service, [task({}), task({ slot: 2 })]), { kind: 'done' })
  const failed = serviceRollout(
    { ...service, updateStatus: { state: 'paused', message: 'update paused due to failure' } },
    [
      task({}),
      task({
        slot: 2,
        desired: 'shutdown',
        state: 'failed',
        error: 'task: non-zero exit (137): dockerexec: unhealthy container',
      }),
    ],
    () => 'node-a',
  )
  t.match(failed, {
    kind: 'failed',
    reason:
      /Swarm paused the update .*task shop_web\.2 on node node-a failed: .*unhealthy container/,
  })
  t.match(
    serviceRollout(
      { ...service, updateStatus: { state: 'rollback_completed', message: 'rolled back' } },
      [],
    ),
    { kind: 'failed', reason: /Swarm rolled the update back/ },
    'Swarm’s own rollback is a failure, never a success',
  )
})

const unavailable = hostUnavailable() ?? swarmUnavailable()
// Two private engines forming a swarm take seconds alone and much longer
// on a loaded two-core machine: this file gets more than the usual 120 s.
t.setTimeout(360_000)

t.test('on a real swarm', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const swarm = await startSwarm()
  t.teardown(() => swarm.close())
  const server = await startGitServer({ token: 'tok-swarm-target-31' })
  t.teardown(() => server.close())
  const stack = `swt-${process.pid}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile(
    `${stack}/compose.yaml`,
    `services:\n  web:\n    image: ${image}\n    container_name: web-one\n    build: .\n    networks: [hostnet]\n${HOST_NETWORK}`,
  )
  repo.writeFile(`${stack}/Dockerfile`, 'FROM scratch\n')
  repo.commitAndPush('a stack Swarm cannot run')

  t.test('a worker is refused at startup, naming SYNC_TARGET', async (t) => {
    const service = startService(
      t,
      await serviceEnv(server, repo.url, {
        SYNC_MODE: 'detect',
        SYNC_TARGET: 'auto',
        DOCKER_HOST: `unix://${swarm.worker.socket}`,
        STACKS_DIR: tempDir('docker-cd-stacks-'),
      }),
    )
    t.equal(await service.exited, 1, 'exits non-zero')
    const lines = service.output.stderr.trim().split('\n')
    t.equal(lines.length, 1, `one line: ${service.output.stderr}`)
    t.match(lines[0], /^docker-cd: SYNC_TARGET=auto: the Docker engine at .* is a Swarm worker/)
  })

  t.test('a stack Swarm cannot run fails before anything is touched', async (t) => {
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        SYNC_TARGET: 'swarm',
        SWARM_RESOLVE_IMAGE: 'never',
        DOCKER_HOST: `unix://${swarm.manager.socket}`,
        DOCKER_SOCKET: swarm.manager.socket,
        STACKS_DIR: tempDir('docker-cd-stacks-'),
      }),
      { maxEventLoopDelayMs: 60_000 },
    )
    await startApp(app)
    const status = await waitFor(
      () => {
        const found = app.desiredState.current().stacks.find((s) => s.path === stack)
        return found?.status === 'failed' ? found : undefined
      },
      'the refused stack',
      60_000,
    )
    t.match(status.reason, /Swarm cannot run this stack: service web has build: .*container_name/)
    t.equal(swarm.manager.docker('service', 'ls', '-q'), '', 'no service was created')
  })
})
