import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EventSource } from 'eventsource'
import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
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

// SYNC_MODE=detect through the service: after the startup refresh every
// stack is checked on the real engine; after a push only the stacks whose
// tree changed; live, after the engine's container events (a hand deploy,
// a stop, a removal); statuses reach /api/stacks, the detail, the feed,
// the status page and the metrics. Foreign projects are listed, untouched.

const unavailable = hostUnavailable()

t.test(
  'SYNC_MODE=detect: the host in the API and the feed, live',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: 'tok-detect-7c' })
    t.teardown(() => server.close())
    const web = `web-${process.pid}`
    const idle = `idle-${process.pid}`
    const twin = `twin-${process.pid}`
    const foreign = `foreign-${process.pid}`
    t.teardown(() => removeProject(web))
    t.teardown(() => removeProject(foreign))
    const repo = createFixtureRepo(server, { stacks: 0 })
    const stackFile = (name = '') =>
      `${name ? `name: ${name}\n` : ''}services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    env_file: app.env\n`
    repo
      .writeFile(`${web}/compose.yaml`, stackFile())
      .writeFile(`${web}/app.env`, 'GREETING=hello\n')
    repo
      .writeFile(`${idle}/compose.yaml`, stackFile())
      .writeFile(`${idle}/app.env`, 'GREETING=idle\n')
    repo.commitAndPush('two stacks')
    const stacksDir = tempDir('docker-cd-stacks-')
    const app = await build(
      t,
      configFor(server, repo.url, { SYNC_MODE: 'detect', STACKS_DIR: stacksDir }),
      // The test's own synchronous docker calls stall this process's event
      // loop for a second or more under load: no load shedding here.
      { maxEventLoopDelayMs: 60_000 },
    )
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    type StatusEvent = {
      id: number
      path: string
      from: string
      to: string
      reason?: string
      health?: string
    }
    const statusEvents: StatusEvent[] = []
    const events = new EventSource(`${base}/api/events`)
    t.teardown(() => events.close())
    events.addEventListener('stack-status', (event) => statusEvents.push(JSON.parse(event.data)))
    await new Promise((resolve) => events.addEventListener('open', resolve))
    await startApp(app)
    const detail = async (name: string) => (await app.inject(`/api/stacks/${name}`)).json()
    /** The first event of `path` from now on that satisfies `match` (a Compose `up` may pass through others). */
    const nextEvent = (path: string, match: (event: StatusEvent) => boolean, what: string) => {
      const from = statusEvents.length
      return waitFor(() => statusEvents.slice(from).find((e) => e.path === path && match(e)), what)
    }

    await waitFor(async () => (await detail(web)).sync, 'the startup check')
    await app.host?.idle()
    t.match(await detail(web), {
      status: 'missing',
      project: web,
      sync: { reason: `not deployed: no container of project ${web} exists`, plan: [] },
    })

    // Live, from the engine's events: deployed by hand from the work tree.
    const deployed = nextEvent(web, (e) => e.to === 'synced', 'synced after a hand deploy')
    compose(`${stacksDir}/${web}`, 'up', '-d')
    t.match(await deployed, {
      path: web,
      to: 'synced',
      reason: 'the host runs what Git says',
      health: 'healthy',
    })
    const container = `${web}-app-1`
    // Stopped by hand: degraded, and Compose would start it.
    const stop = nextEvent(web, (e) => e.to === 'out_of_sync', 'out_of_sync after a stop')
    docker('stop', '-t', '0', container)
    const stopped = await stop
    t.equal(stopped.health, 'degraded')
    t.match(
      stopped.reason,
      new RegExp(`^service app would be started: container ${container} is exited`),
    )
    t.match(await detail(web), {
      status: 'out_of_sync',
      health: 'degraded',
      sync: { plan: [{ service: 'app', container, action: 'start' }] },
    })
    let seen = statusEvents.length
    docker('start', container)
    await waitFor(
      () => statusEvents.slice(seen).find((e) => e.to === 'synced'),
      'synced after a start',
    )
    // Removed by hand: Compose would create it.
    seen = statusEvents.length
    docker('rm', '-f', container)
    await waitFor(
      () => statusEvents.slice(seen).find((e) => e.to === 'missing'),
      'missing after the only container went',
    )
    t.match(await detail(web), { status: 'missing', containers: [] })
    seen = statusEvents.length
    compose(`${stacksDir}/${web}`, 'up', '-d')
    await waitFor(() => statusEvents.slice(seen).find((e) => e.to === 'synced'), 'synced again')

    // A foreign project: listed by /api/host, never a stack, left alone.
    const foreignDir = tempDir('docker-cd-foreign-')
    writeFileSync(
      join(foreignDir, 'compose.yaml'),
      stackFile(foreign).replace('    env_file: app.env\n', ''),
    )
    compose(foreignDir, 'up', '-d')
    const hostResponse = await app.inject('/api/host')
    t.equal(hostResponse.statusCode, 200, hostResponse.body)
    const host = hostResponse.json()
    t.match(host, { syncMode: 'detect', engine: { reachable: true, eventsConnected: true } })
    t.match(
      host.projects.find((p: { name: string }) => p.name === foreign),
      { name: foreign, workingDir: foreignDir, containers: 1, running: 1 },
    )
    t.notOk(host.projects.find((p: { name: string }) => p.name === foreign).stack)
    t.match(
      host.projects.find((p: { name: string }) => p.name === web),
      { stack: web },
    )

    // A push that changes the env_file: out_of_sync, Compose would recreate app.
    seen = statusEvents.length
    repo.writeFile(`${web}/app.env`, 'GREETING=bonjour\n')
    repo.commitAndPush('a new greeting')
    await app.desiredState.refresh('manual').done
    const drifted = await waitFor(
      () => statusEvents.slice(seen).find((e) => e.path === web && e.to === 'out_of_sync'),
      'out_of_sync after the push',
    )
    t.equal(drifted.reason, 'service app would be recreated: its configuration differs from Git')
    await app.host?.idle()
    t.match(await detail(web), {
      status: 'out_of_sync',
      health: 'healthy',
      containers: [{ service: 'app', state: 'running', image }],
      sync: { plan: [{ service: 'app', action: 'recreate' }] },
    })
    const list = (await app.inject('/api/stacks')).json() as {
      path: string
      status: string
      health?: string
    }[]
    t.same(
      list.map((stack) => [stack.path, stack.status, stack.health]),
      [
        [idle, 'missing', undefined],
        [web, 'out_of_sync', 'healthy'],
      ].sort(),
    )
    // Its first check was told (missing → missing: a reason where there was
    // none); since the push, nothing.
    t.match(
      statusEvents.find((event) => event.path === idle),
      {
        from: 'missing',
        to: 'missing',
        reason: `not deployed: no container of project ${idle} exists`,
      },
    )
    t.notOk(
      statusEvents.slice(seen).some((event) => event.path === idle),
      'the unchanged stack was not checked again',
    )
    t.ok(
      app.logs.some((line) => line.msg === 'stack status changed' && line.to === 'out_of_sync'),
      'logged with its reason',
    )
    const page = (await app.inject('/')).body
    t.match(page, /stacks: +2 \((missing 1, out_of_sync 1|out_of_sync 1, missing 1)\)/)
    t.match(page, new RegExp(`\n  ${web} +out_of_sync/healthy +service app would be recreated`))
    t.match(page, new RegExp(`\n  ${foreign} +1/1 running  from ${foreignDir}`))
    const metrics = (await app.inject('/metrics')).body
    t.match(metrics, 'docker_cd_stacks_by_status{status="out_of_sync"} 1')
    t.match(metrics, 'docker_cd_stacks_by_status{status="missing"} 1')
    t.match(metrics, /docker_cd_drift_checks_total\{status="synced"\} [1-9]/)

    // A second stack that picks the same project name: both fail, neither is evaluated.
    seen = statusEvents.length
    repo.writeFile(`${twin}/compose.yaml`, stackFile(web)).writeFile(`${twin}/app.env`, 'X=1\n')
    repo.commitAndPush('a twin of web')
    await app.desiredState.refresh('manual').done
    await app.host?.idle()
    for (const [stack, other] of [
      [web, twin],
      [twin, web],
    ] as const)
      t.match(await detail(stack), {
        status: 'failed',
        project: web,
        sync: {
          reason: `not evaluated or deployed: project name ${web} is also the project of stack ${other}; Compose would treat their containers as one project (give each a top-level name:)`,
        },
      })
    t.notOk(
      ((await app.inject('/api/host')).json().projects as { name: string; stack?: string }[]).find(
        (p) => p.name === web,
      )?.stack,
    )
    // The twin goes: web is evaluated again.
    repo.removeStack(twin)
    repo.commitAndPush('no twin')
    await app.desiredState.refresh('manual').done
    await waitFor(async () => (await detail(web)).status === 'out_of_sync', 'web evaluated again')

    // A restart on the same STACKS_DIR with nothing changed on the host:
    // the last check's record is reused, Compose's plan is not asked again.
    await app.host?.idle()
    const restarted = await build(
      t,
      configFor(server, repo.url, { SYNC_MODE: 'detect', STACKS_DIR: stacksDir }),
      // The test's own synchronous docker calls stall this process's event
      // loop for a second or more under load: no load shedding here.
      { maxEventLoopDelayMs: 60_000 },
    )
    await startApp(restarted)
    await waitFor(
      async () => (await restarted.inject(`/api/stacks/${web}`)).json().sync,
      'the restarted check',
    )
    await restarted.host?.idle()
    t.match((await restarted.inject(`/api/stacks/${web}`)).json(), {
      status: 'out_of_sync',
      sync: { reason: 'service app would be recreated: its configuration differs from Git' },
    })
    const restartedMetrics = (await restarted.inject('/metrics')).body
    t.notMatch(
      restartedMetrics,
      /docker_cd_compose_runs_total\{asked="(model|plan)"\}/,
      'no Compose model or plan after a restart',
    )
    t.match(
      metrics,
      /docker_cd_compose_runs_total\{asked="plan"\} [1-9]/,
      'the first run asked Compose',
    )

    // The foreign project was never touched.
    t.equal(docker('inspect', '-f', '{{.State.Running}}', `${foreign}-app-1`), 'true')
  },
)

t.test('SYNC_MODE: off, detect, apply; the sync switches', async (t) => {
  const { loadConfig } = await import('../../services/base/config.js')
  const base = { GIT_REPO_URL: 'https://git.example.com/r.git', GIT_REVISION: 'main' }
  t.equal(loadConfig(base).syncMode, 'detect', 'detect by default')
  t.equal(loadConfig({ ...base, SYNC_MODE: 'off' }).syncMode, 'off')
  t.equal(loadConfig({ ...base, GIT_CACHE_DIR: '/c' }).stacksDir, '/c/stacks')
  t.equal(loadConfig({ ...base, SYNC_MODE: 'apply' }).syncMode, 'apply')
  t.match(loadConfig(base), {
    syncTimeoutMs: 300_000,
    syncPrune: false,
    syncSelfHeal: false,
    syncAdopt: false,
  })
  t.throws(
    () => loadConfig({ ...base, SYNC_SELF_HEAL: 'often' }),
    /SYNC_SELF_HEAL: must be true or false/,
  )
  t.throws(() => loadConfig({ ...base, SYNC_MODE: 'sometimes' }), /SYNC_MODE: must be one of/)
})
