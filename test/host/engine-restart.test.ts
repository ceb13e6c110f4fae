import { execFileSync } from 'node:child_process'
import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { startSecondEngine, tcpToUnix } from '../helpers/second-engine.js'
import { tempDir } from '../helpers/temp-dir.js'

// The engine goes away mid-run and comes back: a second dockerd of the
// test's own, reached over DOCKER_HOST=tcp:// (a loopback forwarder to its
// socket), stopped and started again on the same data root. Stacks turn
// unknown with the reason, the API keeps answering, and after the restart
// every stack is checked again.

const unavailable = hostUnavailable()

t.test(
  'engine unreachable, then back, over DOCKER_HOST=tcp://',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const engine = await startSecondEngine()
    t.teardown(() => engine.close())
    const forwarder = await tcpToUnix(engine.socket)
    t.teardown(() => forwarder.close())
    const server = await startGitServer({ token: 'tok-restart-5d' })
    t.teardown(() => server.close())
    const stack = `restart-${process.pid}`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeFile(
      `${stack}/compose.yaml`,
      `services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    restart: always\n`,
    )
    repo.commitAndPush('one stack')
    const stacksDir = tempDir('docker-cd-stacks-')
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'detect',
        STACKS_DIR: stacksDir,
        DOCKER_HOST: forwarder.dockerHost,
      }),
      // The test's own synchronous docker calls stall this process's event
      // loop for a second or more under load: no load shedding here.
      { maxEventLoopDelayMs: 60_000 },
    )
    await startApp(app)
    const detail = async () => (await app.inject(`/api/stacks/${stack}`)).json()
    await waitFor(async () => (await detail()).sync, 'the startup check')
    t.match(await detail(), { status: 'missing' })

    execFileSync('docker', ['compose', 'up', '-d'], {
      cwd: `${stacksDir}/${stack}`,
      env: { ...engine.env, DOCKER_HOST: forwarder.dockerHost },
      stdio: 'pipe',
    })
    await waitFor(async () => (await detail()).status === 'synced', 'synced, live over tcp://')
    t.match(await detail(), {
      health: 'healthy',
      containers: [{ service: 'app', state: 'running' }],
    })

    await engine.stop()
    const lost = await waitFor(async () => {
      const body = await detail()
      return body.status === 'unknown' ? body : undefined
    }, 'unknown once the engine is gone')
    t.match(lost.sync.reason, /^engine unreachable: /)
    t.equal((await app.inject('/api/stacks')).statusCode, 200, 'the API keeps answering')
    t.equal((await app.inject('/readyz')).statusCode, 200)
    const host = (await app.inject('/api/host')).json()
    t.match(host, {
      engine: { address: forwarder.dockerHost.slice('tcp://'.length), reachable: false },
      projects: [],
    })
    t.match((await app.inject('/')).body, /containers: +unavailable: /)
    t.ok(
      app.logs.some((line) => /^engine unreachable/.test(line.msg)),
      'said at warn',
    )

    await engine.start()
    await waitFor(
      async () => (await detail()).status === 'synced',
      'synced again after the engine restarted (restart: always brings the container back)',
      60_000,
    )
    t.ok(app.logs.some((line) => line.msg === 'engine answers again: every stack is checked'))
    t.match((await app.inject('/api/host')).json(), {
      engine: { reachable: true },
      projects: [{ name: stack, stack }],
    })
    const metrics = (await app.inject('/metrics')).body
    t.match(metrics, 'docker_cd_engine_unreachable_total 1')
  },
)
