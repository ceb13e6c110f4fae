import t from 'tap'
import { createEventFeed } from '../../services/content/index.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// A subscriber of the event feed that throws, on the real engine: the
// deploys go on (runs counted, stacks synced), and the subscriber after it
// still gets every event — the broken one is dropped, not called again for
// every event with the others starved behind it.

const unavailable = hostUnavailable()
const pid = process.pid

t.test('an event feed subscriber that throws', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-observer-throws-1d' })
  t.teardown(() => server.close())
  const service = `services:\n  app:\n    image: ${image}\n    network_mode: none\n    stop_grace_period: 1s\n    command: ["sleep", "3600"]\n`
  const names = ['oth1', 'oth2'].map((name) => `${name}-${pid}`)
  for (const name of names) t.teardown(() => removeProject(name))
  const repo = createFixtureRepo(server, { stacks: 0 })
  for (const name of names) repo.writeFile(`${name}/compose.yaml`, service)
  repo.commitAndPush('two stacks')
  const app = await build(
    t,
    configFor(server, repo.url, { SYNC_MODE: 'apply', STACKS_DIR: tempDir('docker-cd-stacks-') }),
  )
  let calls = 0
  let dropped = 0
  app.eventFeed.subscribe({
    deliver: () => {
      calls++
      throw new Error('subscriber broke')
    },
    drop: () => {
      dropped++
    },
  })
  const got: string[] = []
  app.eventFeed.subscribe({
    deliver: (event) => {
      got.push(event.event)
      return true
    },
    drop: () => {},
  })
  await startApp(app)
  const status = (name: string) =>
    app.desiredState.current().stacks.find((stack) => stack.path === name)
  await waitFor(
    () => names.every((name) => status(name)?.status === 'synced'),
    'both stacks deployed',
    60_000,
  )
  await app.sync?.idle()
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, /docker_cd_sync_runs_total\{trigger="git",result="completed"\} 2/)
  t.equal(calls, 1, 'the broken subscriber was called once')
  t.equal(dropped, 1, 'and dropped')
  t.ok(got.includes('refresh'), 'the next subscriber got the refresh')
  t.ok(got.filter((event) => event === 'sync').length >= 2 * 5, 'and every phase of both runs')
  t.ok(got.includes('stack-status'), 'and the status changes')
})

t.test('a subscriber whose drop throws too does not stop the feed', async (t) => {
  const feed = createEventFeed({ firstId: 1 })
  feed.subscribe({
    deliver: () => {
      throw new Error('subscriber broke')
    },
    drop: () => {
      throw new Error('and cannot even end')
    },
  })
  const got: number[] = []
  feed.subscribe({
    deliver: (event) => {
      got.push(event.id)
      return true
    },
    drop: () => {},
  })
  feed.syncObserver.phase?.({
    stack: 'a',
    trigger: 'git',
    revision: 'r',
    treeHash: 't',
    phase: 'validate',
    message: 'checking the Compose file',
  })
  t.same(got, [1], 'the next subscriber got the event')
  t.equal(feed.subscriberCount(), 1, 'the broken one is gone')
})
