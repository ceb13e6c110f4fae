import t from 'tap'
import { browserUnavailable, launchBrowser } from '../helpers/browser.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { followStackStatus } from '../helpers/status-feed.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 26, detect mode, on the real engine and in Chromium: a stack
// docker-cd deployed whose mounted file changed in Git since is
// `out_of_sync` although Compose would change nothing, and the plan and the
// reason name the service and the file — in the API, on the event feed
// (a real EventSource client) and in the dashboard's plan section. After a
// restart of docker-cd this still holds: the deploy record knows the tree
// the containers were created from. Detect mode touches nothing.

const unavailable = hostUnavailable() ?? browserUnavailable()
const REASON = 'service web would be recreated: ./web.conf changed since it was deployed'

t.test('detect mode names the changed mounted file', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-mounted-detect' })
  t.teardown(() => server.close())
  const stack = `md-${process.pid}`
  t.teardown(() => removeProject(stack))
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(
      `${stack}/compose.yaml`,
      `services:\n  web:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    volumes:\n      - ./web.conf:/etc/web.conf:ro\n      - /etc/hostname:/outside:ro\n`,
    )
    .writeFile(`${stack}/web.conf`, 'v1\n')
  repo.commitAndPush('a stack with a mounted file')
  // One cache dir and one stacks dir for the three runs of docker-cd.
  const dirs = {
    GIT_CACHE_DIR: tempDir('docker-cd-cache-'),
    STACKS_DIR: tempDir('docker-cd-stacks-'),
  }
  const start = async (mode: 'apply' | 'detect') => {
    const app = await build(t, configFor(server, repo.url, { ...dirs, SYNC_MODE: mode }), {
      maxEventLoopDelayMs: 60_000,
    })
    return app
  }
  const detail = async (app: Awaited<ReturnType<typeof start>>) =>
    (await app.inject(`/api/stacks/${stack}`)).json()

  // docker-cd deploys the stack, then stops.
  const deployer = await start('apply')
  await startApp(deployer)
  await waitFor(
    async () => (await detail(deployer)).sync?.lastResult === 'completed',
    'deployed',
    60_000,
  )
  await deployer.close()
  const id = docker('inspect', '-f', '{{.Id}}', `${stack}-web-1`)

  // The mounted file changes in Git; docker-cd comes back in detect mode.
  repo.writeFile(`${stack}/web.conf`, 'v2\n')
  repo.commitAndPush('new web.conf')
  const watcher = await start('detect')
  const base = await watcher.listen({ port: 0, host: '127.0.0.1' })
  const feed = await followStackStatus(t, base, stack)
  await startApp(watcher)
  const event = await feed.after(
    0,
    (e) => e.to === 'out_of_sync',
    'the out_of_sync event on the feed',
    60_000,
  )
  t.equal(event.event.reason, REASON, 'the feed names the service and the file')
  t.match(await detail(watcher), {
    status: 'out_of_sync',
    reason: REASON,
    sync: { reason: REASON, plan: [{ service: 'web', action: 'recreate', files: ['./web.conf'] }] },
  })

  // The note on a mount from outside the stack directory holds a host path
  // from the Compose file: shown to who may read the file, not to the network.
  const NOTE = /service web reads \/etc\/hostname \(a bind mount\) from outside the stack directory/
  t.match((await detail(watcher)).sync?.notes, [NOTE], 'said once, to a client on this host')
  const remote = await watcher.inject({ url: `/api/stacks/${stack}`, remoteAddress: '10.0.0.5' })
  t.equal(remote.json().sync?.notes, undefined, 'not to a network client without API_TOKEN')
  t.notMatch(
    (await watcher.inject({ url: `/ui/stacks/${stack}`, remoteAddress: '10.0.0.5' })).body,
    '/etc/hostname',
    'nor on its page',
  )
  t.match((await watcher.inject(`/ui/stacks/${stack}`)).body, NOTE, 'the local page says it')

  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${base}/ui/stacks/${stack}`)
  t.same(
    await page.locator('ul.plan li').allTextContents(),
    [REASON],
    "the dashboard's plan section says it",
  )
  await watcher.close()

  // A restart in detect mode: the record still knows the tree the container came from.
  const restarted = await start('detect')
  await startApp(restarted)
  const again = await waitFor(
    async () => {
      const d = await detail(restarted)
      return d.sync?.plan?.length ? d : undefined
    },
    'the check after the restart',
    60_000,
  )
  t.match(again, { status: 'out_of_sync', reason: REASON })
  t.equal(docker('inspect', '-f', '{{.Id}}', `${stack}-web-1`), id, 'detect mode touched nothing')
  t.equal(
    docker('exec', `${stack}-web-1`, 'cat', '/etc/web.conf'),
    'v1',
    'the container still reads v1',
  )
})
