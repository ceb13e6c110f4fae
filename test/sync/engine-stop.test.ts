import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { startSecondEngine } from '../helpers/second-engine.js'
import { tempDir } from '../helpers/temp-dir.js'

// The engine is stopped (an engine restart, a host reboot) while a deploy
// waits for its service to be healthy, on a real second engine: the engine
// kills the container on its way down and Compose reports it exited. That
// is the engine's failure, not the tree's — while it shuts down the engine
// stops taking new connections but still answers on a kept-alive one, so
// the question "does the engine answer?" must be asked afresh. The stack is
// not `failed` for good: the deploy is tried again once the engine is back.

const unavailable = hostUnavailable()
const pid = process.pid

t.test(
  'a deploy cut by an engine stop is the engine’s failure, retried when it is back',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const engine = await startSecondEngine()
    t.teardown(() => engine.close())
    const server = await startGitServer({ token: 'tok-engine-stop-5b' })
    t.teardown(() => server.close())
    // Healthy only after 20 s: still in its health wait when the engine kills it (10 s after SIGTERM).
    const slow = `services:\n  app:\n    image: ${image}\n    network_mode: none\n    stop_grace_period: 1s\n    command: ["sh", "-c", "sleep 20; touch /ok; sleep 3600"]\n    healthcheck:\n      test: ["CMD", "test", "-f", "/ok"]\n      interval: 200ms\n      retries: 1000\n`
    const name = `estop-${pid}`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeFile(`${name}/compose.yaml`, slow)
    repo.commitAndPush('a slow stack')
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        SYNC_TIMEOUT: '60s',
        DOCKER_HOST: `unix://${engine.socket}`,
        DOCKER_SOCKET: engine.socket,
        STACKS_DIR: tempDir('docker-cd-stacks-'),
      }),
      { maxEventLoopDelayMs: 60_000, sync: { retryBackoff: { initialMs: 500, maxMs: 1000 } } },
    )
    await startApp(app)
    const status = () => app.desiredState.current().stacks.find((stack) => stack.path === name)
    await waitFor(
      () => /: wait$/.test(status()?.reason ?? ''),
      'the deploy in its health wait',
      60_000,
    )
    await engine.stop()
    const failed = await waitFor(
      () => app.logs.find((line) => line.msg === 'sync failed' && line.stack === name),
      'the deploy to fail',
      60_000,
    )
    t.equal(failed.failure, 'engine', `the engine's failure (${String(failed.reason)})`)
    t.not(status()?.status, 'failed', 'the stack is not failed for good')
    await engine.start()
    await waitFor(
      () => status()?.status === 'synced' && status()?.health === 'healthy',
      'the deploy tried again and done once the engine is back',
      120_000,
    )
    const history = (await app.inject(`/api/stacks/${name}`)).json().history as {
      result: string
    }[]
    t.equal(history[0]?.result, 'completed')
  },
)
