import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createDeployRecords } from '../../services/sync/index.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Shutdown with several deploys running at once (SYNC_CONCURRENCY=3) on
// the real engine, one more waiting for a slot and one held by its
// declared order: close() ends within the grace periods, every running
// deploy is recorded as interrupted, and nothing waiting starts.

const unavailable = hostUnavailable()
const GIT_TOKEN = 'tok-shutdown-par-2c'
const pid = process.pid

t.test(
  'close() with three deploys running, one queued, one held',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: GIT_TOKEN })
    t.teardown(() => server.close())
    const names = ['sa', 'sb', 'sc', 'sd'].map((name) => `${name}-${pid}`)
    const held = `sheld-${pid}`
    for (const name of [...names, held]) t.teardown(() => removeProject(name))
    // Healthy only after a minute: each deploy is in its health wait when asked to stop.
    const never = `services:\n  app:\n    image: ${image}\n    network_mode: none\n    stop_grace_period: 1s\n    command: ["sh", "-c", "sleep 60; touch /ok; sleep 3600"]\n    healthcheck:\n      test: ["CMD", "test", "-f", "/ok"]\n      interval: 200ms\n      retries: 1000\n`
    const repo = createFixtureRepo(server, { stacks: 0 })
    for (const name of names) repo.writeFile(`${name}/compose.yaml`, never)
    repo.writeFile(`${held}/compose.yaml`, `x-docker-cd:\n  depends_on: [${names[0]}]\n${never}`)
    repo.commitAndPush('slow stacks')
    const config = configFor(server, repo.url, {
      SYNC_MODE: 'apply',
      SYNC_CONCURRENCY: '3',
      SYNC_TIMEOUT: '120s',
      STACKS_DIR: tempDir('docker-cd-stacks-'),
    })
    const app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
    await startApp(app)
    const status = (name: string) =>
      app.desiredState.current().stacks.find((stack) => stack.path === name)
    await waitFor(
      () => names.filter((name) => /: wait$/.test(status(name)?.reason ?? '')).length === 3,
      'three deploys in their health wait',
      60_000,
    )
    const waiting = names.find((name) => !/: wait$/.test(status(name)?.reason ?? '')) as string
    const started = Date.now()
    await app.close()
    const took = Date.now() - started
    t.ok(took < 30_000, `close() ended in ${took} ms`)
    const records = createDeployRecords(
      join(
        config.gitCacheDir,
        readdirSync(config.gitCacheDir).find((n) => n.endsWith('.deployments')) as string,
      ),
    )
    await records.load()
    for (const name of names.filter((n) => n !== waiting))
      t.match(
        records.get(name),
        { lastResult: 'interrupted', history: [{ result: 'interrupted' }] },
        `${name}: its deploy recorded as interrupted`,
      )
    t.notOk(records.get(waiting)?.history.length, `${waiting} (waiting for a slot) never ran`)
    const containers = (name: string) =>
      docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${name}`)
    t.equal(containers(waiting), '', `${waiting} was not deployed`)
    t.equal(containers(held), '', `${held} was not deployed`)
  },
)
