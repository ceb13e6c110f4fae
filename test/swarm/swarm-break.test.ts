import { createHash } from 'node:crypto'
import t from 'tap'
import { deployedApp, finishedRun, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { HOST_NETWORK, startSwarm, swarmUnavailable } from '../helpers/swarm.js'

// Hostile review of the Swarm target, on one real two-node swarm
// (test/helpers/swarm.ts). A stack of two services, `web` (reading a
// config, `update_config.failure_action: rollback`) and `side`:
// - an update of `web` alone (a new config and a failing health check)
//   that Swarm rolls back by itself ends `failed`, never synced; `side`
//   keeps its tasks; `web` runs the good config again, and the good config
//   object is still there;
// - refreshes after it do not deploy the failed tree again (no new run);
// - `side` removed from Git: gone from the swarm (`--prune`), synced.
// - a stack with a service at `deploy.replicas: 0`, a global one and a
//   config with a 60-character key: synced (the health gate does not ask
//   a container of a service scaled to zero; the name within 64 characters);
// - a change of web's health check alone is deployed (drift sees it through
//   the spec label); the manager stopped mid-rollout ends the run with the
//   engine's reason, never synced, and the stack syncs once it is back.

const unavailable = hostUnavailable() ?? swarmUnavailable()
// Two private engines forming a swarm take seconds alone and much longer
// on a loaded two-core machine: this file gets more than the usual 120 s.
t.setTimeout(360_000)

type Detail = {
  status: string
  reason?: string
  treeHash: string
  sync?: { deployedTreeHash?: string; rolledBackTo?: { treeHash: string }; error?: string }
  history?: { toTree: string; result: string; reason: string }[]
}

const hash8 = (content: string) => createHash('sha256').update(content).digest('hex').slice(0, 8)

t.test('hostile rollouts on a two-node swarm', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const swarm = await startSwarm()
  t.teardown(() => swarm.close())
  const server = await startGitServer({ token: 'tok-swarm-bsw-41' })
  t.teardown(() => server.close())
  const stack = `bsw-${process.pid}`
  const compose = (webExtra = '', withSide = true) =>
    `services:
  web:
    image: ${image}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [hostnet]
    configs:
      - source: conf
        target: /etc/app.conf
    deploy:
      replicas: 2
      update_config:
        parallelism: 2
        monitor: 3s
        failure_action: rollback
      rollback_config:
        parallelism: 2
${webExtra}${
  withSide
    ? `  side:
    image: ${image}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [hostnet]
`
    : ''
}configs:
  conf:
    file: ./app.conf
${HOST_NETWORK}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile(`${stack}/compose.yaml`, compose())
  repo.writeFile(`${stack}/app.conf`, 'good=1\n')
  repo.commitAndPush('a stack of two services, web reading a config')

  const { app, detail, deployed } = await deployedApp(t, server, repo.url, stack, {
    SYNC_TARGET: 'swarm',
    SYNC_TIMEOUT: '90s',
    SWARM_RESOLVE_IMAGE: 'never',
    DOCKER_HOST: `unix://${swarm.manager.socket}`,
    DOCKER_SOCKET: swarm.manager.socket,
  })
  t.equal((deployed as Detail).status, 'synced', (deployed as Detail).reason ?? '')
  const goodTree = (deployed as Detail).treeHash
  const goodConf = `${stack}_conf_${hash8('good=1\n')}`
  const inspect = (service: string, format: string) =>
    swarm.manager.docker('service', 'inspect', '--format', format, `${stack}_${service}`)
  const sideTasks = () =>
    swarm.manager.docker(
      'service',
      'ps',
      '-q',
      '--filter',
      'desired-state=running',
      `${stack}_side`,
    )
  const sideBefore = sideTasks()

  // Attack 1+2: a new config and a failing health check; Swarm rolls back by itself.
  repo.writeFile(`${stack}/app.conf`, 'bad=1\n')
  repo.writeFile(
    `${stack}/compose.yaml`,
    compose(
      '    healthcheck:\n      test: ["CMD", "sh", "-c", "exit 1"]\n      interval: 1s\n      timeout: 1s\n      retries: 1\n',
    ),
  )
  repo.commitAndPush('a failing update of web, Swarm rolls it back')
  await app.desiredState.refresh('manual').done
  const failed = (await finishedRun(detail, 'the failing update')) as Detail
  t.equal(failed.status, 'failed', `never synced: ${failed.reason}`)
  t.equal(failed.history?.[0]?.result, 'failed')
  t.match(failed.sync?.error ?? '', /web/, `the reason names web: ${failed.sync?.error}`)
  t.match(failed.sync, { deployedTreeHash: goodTree })
  t.match(
    inspect('web', '{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}}{{end}}'),
    goodConf,
    'web runs the good config again',
  )
  t.equal(
    inspect('web', '{{if .Spec.TaskTemplate.ContainerSpec.Healthcheck}}hc{{end}}'),
    '',
    'web runs the good spec (no failing health check)',
  )
  t.ok(
    swarm.manager.docker('config', 'ls', '--format', '{{.Name}}').split('\n').includes(goodConf),
    'the good config object is kept',
  )
  t.equal(sideTasks(), sideBefore, 'side keeps its very task')
  const runs = failed.history?.length ?? 0

  // No loop: refreshes do not deploy the failed tree again.
  for (let round = 0; round < 3; round++) {
    await app.desiredState.refresh('manual').done
    await app.host?.idle()
    await app.sync?.idle()
    const d = (await detail()) as Detail
    t.equal(d.history?.length, runs, `refresh ${round + 1}: no new run`)
    t.equal(d.status, 'failed', `refresh ${round + 1}: still failed`)
  }

  // Attack 3: side removed from Git (good web again): pruned, synced.
  repo.writeFile(`${stack}/app.conf`, 'good=1\n')
  repo.writeFile(`${stack}/compose.yaml`, compose('', false))
  repo.commitAndPush('side leaves Git')
  await app.desiredState.refresh('manual').done
  const pruned = (await finishedRun(detail, 'side removed')) as Detail
  t.equal(pruned.status, 'synced', pruned.reason ?? '')
  t.equal(pruned.history?.[0]?.result, 'completed', pruned.history?.[0]?.reason ?? '')
  t.notOk(
    swarm.manager
      .docker('service', 'ls', '--format', '{{.Name}}')
      .split('\n')
      .includes(`${stack}_side`),
    'side is gone from the swarm',
  )
  t.comment(`the run that removed side: ${pruned.history?.[0]?.reason}`)

  // Attack 4: a service scaled to zero in Git, a global one, a config with a 60-character key.
  const other = `${stack}z`
  const longKey = `c${'x'.repeat(59)}`
  repo.writeFile(
    `${other}/compose.yaml`,
    `services:
  zero:
    image: ${image}
    command: ["sleep", "3600"]
    networks: [hostnet]
    deploy:
      replicas: 0
  everywhere:
    image: ${image}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [hostnet]
    configs:
      - source: ${longKey}
        target: /etc/long.conf
    deploy:
      mode: global
configs:
  ${longKey}:
    file: ./long.conf
${HOST_NETWORK}`,
  )
  repo.writeFile(`${other}/long.conf`, 'long=1\n')
  repo.commitAndPush('a stack scaled to zero, a global service, a long config name')
  await app.desiredState.refresh('manual').done
  const otherDetail = async () => (await app.inject(`/api/stacks/${other}`)).json() as Detail
  const zero = await finishedRun(otherDetail, 'the stack scaled to zero')
  t.equal(
    zero.status,
    'synced',
    `replicas: 0 and global deploy: ${zero.reason} ${zero.sync?.error ?? ''}`,
  )
  t.equal(zero.history?.[0]?.result, 'completed', zero.history?.[0]?.reason ?? '')
  t.equal(
    swarm.manager.docker(
      'service',
      'inspect',
      '--format',
      '{{.Spec.Mode.Replicated.Replicas}}',
      `${other}_zero`,
    ),
    '0',
    'zero replicas on the swarm',
  )
  const names = swarm.manager.docker('config', 'ls', '--format', '{{.Name}}').split('\n')
  const long = names.find((name) => name.startsWith(`${other}_c`))
  t.ok(long && long.length <= 64, `the long config name within 64 characters: ${long}`)

  // Attack 5: the manager goes away mid-rollout (a health check whose first
  // run is 30 s away keeps the rollout waiting), and comes back.
  const runsBeforeOutage = ((await detail()) as Detail).history?.length ?? 0
  repo.writeFile(
    `${stack}/compose.yaml`,
    compose(
      '    healthcheck:\n      test: ["CMD", "true"]\n      interval: 30s\n      timeout: 1s\n      retries: 1\n',
      false,
    ),
  )
  repo.commitAndPush('a slow rollout of web')
  t.comment(`refresh: ${JSON.stringify(await app.desiredState.refresh('manual').done)}`)
  await waitFor(
    () => inspect('web', '{{if .Spec.TaskTemplate.ContainerSpec.Healthcheck}}hc{{end}}') === 'hc',
    'the slow rollout to be under way',
    60_000,
  ).catch(async (error: Error) => {
    const d = (await detail()) as Detail
    t.comment(JSON.stringify({ status: d.status, reason: d.reason, run: d.history?.[0] }))
    throw error
  })
  t.comment(
    `manager stopped with web ${inspect('web', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}')}, docker-cd ${((await detail()) as Detail).status}`,
  )
  await swarm.manager.stop()
  const cut = await waitFor(
    async () => {
      const d = (await detail()) as Detail
      return (d.history?.length ?? 0) > runsBeforeOutage && d.status !== 'syncing' ? d : undefined
    },
    'the run to end while the manager is away',
    120_000,
  )
  t.not(cut.history?.[0]?.result, 'completed', `not completed: ${cut.history?.[0]?.reason}`)
  t.not(cut.status, 'synced', `not synced while the manager is away: ${cut.status} ${cut.reason}`)
  t.match(
    `${cut.history?.[0]?.reason} ${cut.reason}`,
    /engine|unreachable|daemon|socket/i,
    'the reason names the engine',
  )
  await swarm.manager.start()
  await app.desiredState.refresh('manual').done
  const back = await waitFor(
    async () => {
      const d = (await detail()) as Detail
      return d.status === 'synced' ? d : undefined
    },
    'the stack synced once the manager is back',
    180_000,
  )
  t.equal(back.status, 'synced', `after the outage: ${back.history?.[0]?.reason}`)
})
