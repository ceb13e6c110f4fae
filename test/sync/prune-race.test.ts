import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// SYNC_PRUNE=true on the real engine: a stack removed from Git while its
// first deploy runs (docker-cd has no project recorded for it yet, the
// `up` is creating one) is taken down once that deploy ends — not left
// running until the next restart.

const unavailable = hostUnavailable()
const GIT_TOKEN = 'tok-prune-race-8a'
const pid = process.pid

t.test(
  'a stack removed from Git during its first deploy is taken down after it',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: GIT_TOKEN })
    t.teardown(() => server.close())
    const gone = `prgone-${pid}`
    const stays = `prstays-${pid}`
    for (const name of [gone, stays]) t.teardown(() => removeProject(name))
    // Healthy three seconds after it starts: its `up --wait` lasts that long.
    const slow = `services:\n  app:\n    image: ${image}\n    network_mode: none\n    stop_grace_period: 1s\n    command: ["sh", "-c", "sleep 3; touch /ok; sleep 3600"]\n    healthcheck:\n      test: ["CMD", "test", "-f", "/ok"]\n      interval: 200ms\n      retries: 100\n`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeFile(`${gone}/compose.yaml`, slow).writeFile(`${stays}/compose.yaml`, slow)
    repo.commitAndPush('two stacks')
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        SYNC_PRUNE: 'true',
        STACKS_DIR: tempDir('docker-cd-stacks-'),
      }),
    )
    await startApp(app)
    const status = (name: string) =>
      app.desiredState.current().stacks.find((stack) => stack.path === name)
    const containers = (name: string) =>
      docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${name}`)
    await waitFor(
      () => /: (up|wait)$/.test(status(gone)?.reason ?? '') && containers(gone) !== '',
      'the first deploy of the stack under way',
      60_000,
    )
    repo.removeStack(gone)
    repo.commitAndPush('one stack removed')
    await app.desiredState.refresh('manual').done
    t.notOk(status(gone), 'the stack left the list')
    await waitFor(() => status(stays)?.status === 'synced', 'the other stack deployed', 60_000)
    await waitFor(
      async () => {
        await app.sync?.idle()
        return containers(gone) === '' && (app.sync?.removed() ?? []).length === 0
      },
      'the removed stack taken down',
      60_000,
    ).catch((error) => {
      t.comment(JSON.stringify(app.sync?.removed()))
      throw error
    })
    t.not(containers(stays), '', 'the stack still in Git keeps running')
  },
)
