import t from 'tap'
import { build, deployedApp, finishedRun, startApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { HOST_NETWORK, startSwarm, swarmUnavailable } from '../helpers/swarm.js'

// Swarm as the deploy target, on a real two-node swarm made of two private
// engines (test/helpers/swarm.ts): SYNC_TARGET=auto picks Swarm on the
// manager; a stack of 4 replicas deploys, its rollout watched to the end,
// and its tasks run on both nodes; a service scaled by hand is drift, named;
// an update whose health check fails ends `failed` with the tasks' reason,
// and docker-cd deploys the last good tree again (Swarm's own default
// `failure_action: pause` stops the update; the previous spec runs again).

const unavailable = hostUnavailable() ?? swarmUnavailable()
// Two private engines forming a swarm take seconds alone and much longer
// on a loaded two-core machine: this file gets more than the usual 120 s.
t.setTimeout(360_000)

type Detail = {
  status: string
  health?: string
  reason?: string
  treeHash: string
  sync?: { deployedTreeHash?: string; rolledBackTo?: { treeHash: string }; error?: string }
  history?: {
    toTree: string
    result: string
    durationMs: number
    reason: string
    trigger?: string
  }[]
}

t.test('a stack on a two-node swarm', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const swarm = await startSwarm()
  t.teardown(() => swarm.close())
  const server = await startGitServer({ token: 'tok-swarm-deploy-31' })
  t.teardown(() => server.close())
  const stack = `sw-${process.pid}`
  const service = (extra = '') =>
    `services:\n  web:\n    image: ${image}\n    command: ["sleep", "3600"]\n    stop_grace_period: 1s\n    environment:\n      GREETING: hello\n    networks: [hostnet]\n    deploy:\n      replicas: 4\n${extra}${HOST_NETWORK}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile(`${stack}/compose.yaml`, service())
  repo.commitAndPush('a stack of four replicas')

  const { app, detail, deployed } = await deployedApp(t, server, repo.url, stack, {
    SYNC_TARGET: 'auto',
    SYNC_TIMEOUT: '60s',
    SWARM_RESOLVE_IMAGE: 'never',
    DOCKER_HOST: `unix://${swarm.manager.socket}`,
    DOCKER_SOCKET: swarm.manager.socket,
  })
  t.ok(
    app.logs.find((line) =>
      /SYNC_TARGET=auto: stacks are deployed with docker stack/.test(line.msg),
    ),
    'auto picks Swarm on a manager',
  )
  t.equal(app.host?.runtime.name, 'swarm')
  /** What `docker service ps` says of the tasks Swarm wants running, one line each. */
  const runningTasks = (format: string) =>
    swarm.manager
      .docker(
        'service',
        'ps',
        `${stack}_web`,
        '--filter',
        'desired-state=running',
        '--format',
        format,
      )
      .split('\n')
  const first = (deployed as Detail).history?.[0]
  t.match(deployed, { status: 'synced' }, 'deployed, rollout watched to its end')
  t.equal(first?.result, 'completed', first?.reason ?? 'no run')
  t.comment(`first deploy of 4 replicas (deploy + watched rollout): ${first?.durationMs} ms`)
  const tasks = runningTasks('{{.Node}} {{.CurrentState}}')
  t.equal(tasks.length, 4, 'four tasks')
  t.ok(
    tasks.every((line) => / Running /.test(line)),
    'all running',
  )
  const nodes = new Set(
    runningTasks('{{.ID}}').map((id) =>
      swarm.manager.docker('inspect', '--format', '{{.NodeID}}', id),
    ),
  )
  t.same([...nodes].sort(), [swarm.nodes.manager, swarm.nodes.worker].sort(), 'tasks on both nodes')
  await waitFor(async () => (await detail()).health === 'healthy', 'the stack healthy')

  // A `docker service scale` by hand: drift, with the service and what differs.
  swarm.manager.docker('service', 'scale', '--detach', `${stack}_web=2`)
  const drifted = await waitFor(
    async () => {
      const d = (await detail()) as Detail
      return d.status === 'out_of_sync' ? d : undefined
    },
    'the scale by hand seen as drift',
    30_000,
  )
  t.match(drifted.reason, /service web has 2 replicas, Git says 4/)

  // An update whose health check fails: failed with the tasks' reason, the good tree back.
  const goodTree = (await detail()).treeHash
  repo.writeFile(
    `${stack}/compose.yaml`,
    service(
      '    healthcheck:\n      test: ["CMD", "sh", "-c", "echo broken >&2; exit 1"]\n      interval: 1s\n      timeout: 1s\n      retries: 1\n',
    ).replace('GREETING: hello', 'GREETING: broken'),
  )
  repo.commitAndPush('an unhealthy update')
  await app.desiredState.refresh('manual').done
  const failed = (await finishedRun(detail, 'the unhealthy update')) as Detail
  t.equal(failed.status, 'failed')
  t.equal(failed.history?.[0]?.result, 'failed')
  t.match(failed.sync?.error ?? '', /unhealthy container/, 'the tasks’ reason')
  t.match(failed.sync, { deployedTreeHash: goodTree, rolledBackTo: { treeHash: goodTree } })
  t.comment(
    `failed update, rolled back by docker-cd: ${failed.history?.[0]?.durationMs} ms (${failed.history?.[0]?.reason})`,
  )
  const env = swarm.manager.docker(
    'service',
    'inspect',
    '--format',
    '{{json .Spec.TaskTemplate.ContainerSpec.Env}} {{.Spec.Mode.Replicated.Replicas}} {{.UpdateStatus.State}}',
    `${stack}_web`,
  )
  t.match(env, /GREETING=hello/, 'the previous spec runs again')
  t.match(env, / 4 completed$/, 'four replicas, the rollback update completed')
  const running = runningTasks('{{.CurrentState}}')
  t.equal(running.filter((state) => state.startsWith('Running')).length, 4, 'four running again')

  // Self-heal on a swarm: docker-cd started again with SYNC_SELF_HEAL on
  // (the same cache and stacks dirs: its records, its ownership); a scale
  // by hand is drift it deploys away, as a run with trigger self-heal.
  await app.close()
  const healing = await build(t, { ...app.config, syncSelfHeal: true })
  await startApp(healing)
  const healed = async () => (await healing.inject(`/api/stacks/${stack}`)).json() as Detail
  await waitFor(
    async () => (await healed()).status === 'failed',
    'the restarted docker-cd to see the failed tree',
  )
  repo.writeFile(`${stack}/compose.yaml`, service())
  repo.commitAndPush('back to the good spec')
  await healing.desiredState.refresh('manual').done
  await waitFor(
    async () => {
      const d = await healed()
      return d.status === 'synced' && d.health === 'healthy'
    },
    'the good spec synced under the restarted docker-cd',
    120_000,
  )
  const runsBefore = (await healed()).history?.length ?? 0
  swarm.manager.docker('service', 'scale', '--detach', `${stack}_web=1`)
  const healRun = await waitFor(
    async () => {
      const d = await healed()
      const run = d.history?.[0]
      return (d.history?.length ?? 0) > runsBefore && run?.result === 'completed' ? run : undefined
    },
    'self-heal to deploy the scale by hand away',
    120_000,
  )
  t.equal(healRun.trigger, 'self-heal', `a self-heal run (${healRun.reason})`)
  t.equal(
    swarm.manager.docker(
      'service',
      'inspect',
      '--format',
      '{{.Spec.Mode.Replicated.Replicas}}',
      `${stack}_web`,
    ),
    '4',
    'four replicas again',
  )
})
