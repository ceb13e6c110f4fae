import { chmodSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createCompose } from '../../services/host/compose.js'
import { createEngine } from '../../services/host/docker-engine.js'
import { checkStack, healthOf, reasonOf } from '../../services/host/drift.js'
import { createWorkTrees } from '../../services/host/work-trees.js'
import { build, configFor, startApp } from '../helpers/build.js'
import {
  compose,
  docker,
  ensureTestImage,
  hostUnavailable,
  removeProject,
} from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Drift against the real engine and Compose v2: work trees written from the
// mirror, Compose's own plan, the engine's container states — no fakes.

const unavailable = hostUnavailable()
const SOCKET = '/var/run/docker.sock'

t.test('host state of a stack, for real', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-drift-4e' })
  t.teardown(() => server.close())
  const stack = `drift-${process.pid}`
  t.teardown(() => removeProject(stack))
  const repo = createFixtureRepo(server, { stacks: 0 })
  const service = (name: string, extra = '') =>
    `  ${name}:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n${extra}`
  repo
    .writeFile(
      `${stack}/compose.yaml`,
      `services:\n${service('app', '    env_file: app.env\n')}${service('side')}`,
    )
    .writeFile(`${stack}/app.env`, 'GREETING=hello\n')
    .writeFile(`${stack}/bin/run.sh`, '#!/bin/sh\necho hi\n')
    .symlink(`${stack}/outside`, '/etc/passwd')
  chmodSync(join(repo.workDir, stack, 'bin', 'run.sh'), 0o755)
  repo.commitAndPush('a two-service stack')
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const stacksDir = tempDir('docker-cd-stacks-')
  const trees = createWorkTrees({ git: app.gitReader, stacksDir })
  const treeOf = () => {
    const found = app.desiredState.current().stacks.find((s) => s.path === stack)
    if (!found) throw new Error('stack not in the snapshot')
    return found.treeOid
  }
  const engine = createCompose({})
  const dockerEngine = createEngine({ dockerHost: `unix://${SOCKET}` })
  t.teardown(() => dockerEngine.close())
  const check = (dir: string) => checkStack({ dir, compose: engine, engine: dockerEngine })

  const first = await trees.ensure(stack, treeOf())
  t.equal(first.written, true)
  const dir = first.dir
  t.same(readdirSync(dir).sort(), ['app.env', 'bin', 'compose.yaml'], 'no symlink')
  t.equal(statSync(join(dir, 'bin', 'run.sh')).mode & 0o777, 0o755, 'the executable bit kept')
  t.equal(
    (await trees.ensure(stack, treeOf())).written,
    false,
    'an unchanged tree is not rewritten',
  )

  t.match(await check(dir), {
    status: 'missing',
    project: stack,
    reason: `not deployed: no container of project ${stack} exists`,
    plan: [],
  })

  compose(dir, 'up', '-d')
  const synced = await check(dir)
  t.match(synced, { status: 'synced', health: 'healthy', reason: 'the host runs what Git says' })
  t.same(
    synced.containers.map((c) => [c.service, c.state]),
    [
      ['app', 'running'],
      ['side', 'running'],
    ],
  )
  const sideId = docker('inspect', '-f', '{{.Id}}', `${stack}-side-1`)

  repo.writeFile(`${stack}/app.env`, 'GREETING=bonjour\n')
  repo.commitAndPush('a new greeting')
  await app.desiredState.refresh('manual').done
  t.equal((await trees.ensure(stack, treeOf())).written, true, 'the changed tree is written')
  t.same(
    readdirSync(stacksDir).filter((name) => /\.(new|old)-/.test(name)),
    [],
    'the swap leaves nothing beside it',
  )
  const drifted = await check(dir)
  t.match(drifted, { status: 'out_of_sync', health: 'healthy' })
  t.same(drifted.plan, [{ service: 'app', container: `${stack}-app-1`, action: 'recreate' }])
  t.equal(drifted.reason, 'service app would be recreated: its configuration differs from Git')

  compose(dir, 'up', '-d')
  t.match(await check(dir), { status: 'synced' })
  t.equal(docker('inspect', '-f', '{{.Id}}', `${stack}-side-1`), sideId, 'side was not recreated')

  docker('stop', '-t', '0', `${stack}-side-1`)
  const stopped = await check(dir)
  t.match(stopped, { status: 'out_of_sync', health: 'degraded' })
  t.same(stopped.plan, [{ service: 'side', container: `${stack}-side-1`, action: 'start' }])
  t.match(
    stopped.reason,
    new RegExp(`^service side would be started: container ${stack}-side-1 is exited \\(137\\)`),
  )

  docker('rm', '-f', `${stack}-side-1`)
  const removed = await check(dir)
  t.match(removed, { status: 'out_of_sync', health: 'degraded' })
  t.same(removed.plan, [{ service: 'side', container: `${stack}-side-1`, action: 'create' }])
  t.equal(removed.reason, 'service side would be created: it has no container')

  const absent = createEngine({ dockerHost: 'unix:///nonexistent/docker.sock' })
  t.teardown(() => absent.close())
  t.match(await checkStack({ dir, compose: engine, engine: absent }), {
    status: 'unknown',
    reason:
      'engine unreachable: cannot reach the Docker engine at unix:///nonexistent/docker.sock (DOCKER_HOST): no such socket',
  })

  repo.writeFile(`${stack}/compose.yaml`, 'services:\n  app:\n    image: [not, a, string\n')
  repo.commitAndPush('a broken Compose file')
  await app.desiredState.refresh('manual').done
  await trees.ensure(stack, treeOf())
  const rejected = await check(dir)
  t.equal(rejected.status, 'out_of_sync')
  t.match(rejected.reason, /^Compose rejects the stack: .+/)
})

t.test('health from container states', async (t) => {
  const c = (service: string, state: string, health?: string) => ({
    name: `p-${service}-1`,
    service,
    state,
    status: '',
    image: 'i',
    ...(health ? { health } : {}),
  })
  t.equal(healthOf([], ['a']), undefined, 'no containers: no health')
  t.equal(healthOf([c('a', 'running')], ['a']), 'healthy')
  t.equal(healthOf([c('a', 'running', 'healthy')], ['a']), 'healthy')
  t.equal(healthOf([c('a', 'running', 'starting')], ['a']), 'progressing')
  t.equal(healthOf([c('a', 'created')], ['a']), 'progressing')
  t.equal(healthOf([c('a', 'running', 'unhealthy')], ['a']), 'degraded')
  t.equal(healthOf([c('a', 'exited')], ['a']), 'degraded')
  t.equal(healthOf([c('a', 'restarting')], ['a']), 'degraded')
  t.equal(healthOf([c('a', 'running')], ['a', 'b']), 'degraded', 'a service without a container')
})

t.test("a reason does not carry the engine's clock: no new state at every re-check", async (t) => {
  const stopped = (status: string) => [
    { name: 'w-app-1', service: 'app', state: 'exited', status, image: 'x' },
  ]
  const plan = [{ service: 'app', container: 'w-app-1', action: 'start' as const }]
  for (const age of ['Less than a second ago', '2 minutes ago', 'About an hour ago', '3 days ago'])
    t.equal(
      reasonOf(plan, stopped(`Exited (137) ${age}`)),
      'service app would be started: container w-app-1 is exited (137)',
      age,
    )
  t.equal(
    reasonOf(plan, stopped('Created')),
    'service app would be started: container w-app-1 is created',
  )
})
