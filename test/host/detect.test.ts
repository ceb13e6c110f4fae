import { EventSource } from 'eventsource'
import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { compose, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// SYNC_MODE=detect through the service: after the startup refresh every
// stack is checked on the real engine; after a push only the stacks whose
// tree changed; statuses reach /api/stacks, the detail and the event feed.

const unavailable = hostUnavailable()

t.test(
  'SYNC_MODE=detect: the host in the API and the feed',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: 'tok-detect-7c' })
    t.teardown(() => server.close())
    const web = `web-${process.pid}`
    const idle = `idle-${process.pid}`
    t.teardown(() => removeProject(web))
    const repo = createFixtureRepo(server, { stacks: 0 })
    const stackFile = (greeting: string) =>
      `services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    environment:\n      GREETING: ${greeting}\n`
    repo.writeFile(`${web}/compose.yaml`, stackFile('hello'))
    repo.writeFile(`${idle}/compose.yaml`, stackFile('idle'))
    repo.commitAndPush('two stacks')
    const stacksDir = tempDir('docker-cd-stacks-')
    const app = await build(
      t,
      configFor(server, repo.url, { SYNC_MODE: 'detect', STACKS_DIR: stacksDir }),
    )
    await startApp(app)
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const detail = async (name: string) => (await app.inject(`/api/stacks/${name}`)).json()

    await waitFor(async () => (await detail(web)).sync, 'the startup check')
    await app.host?.idle()
    t.match(await detail(web), {
      status: 'missing',
      project: web,
      sync: { reason: `not deployed: no container of project ${web} exists`, plan: [] },
    })

    // Deployed by hand from the work tree, then a push changes it in Git.
    compose(`${stacksDir}/${web}`, 'up', '-d')
    const events = new EventSource(`${base}/api/events`)
    t.teardown(() => events.close())
    const statusEvents: { id: number; path: string; from: string; to: string; reason?: string }[] =
      []
    events.addEventListener('stack-status', (event) => statusEvents.push(JSON.parse(event.data)))
    await new Promise((resolve) => events.addEventListener('open', resolve))
    repo.writeFile(`${web}/compose.yaml`, stackFile('bonjour'))
    repo.commitAndPush('a new greeting')
    await app.desiredState.refresh('manual').done
    await waitFor(() => statusEvents.length > 0, 'a stack-status event')
    await app.host?.idle()
    const drifted = await detail(web)
    t.match(drifted, {
      status: 'out_of_sync',
      health: 'healthy',
      containers: [{ service: 'app', state: 'running', image }],
      sync: {
        plan: [{ service: 'app', action: 'recreate' }],
        reason: 'service app would be recreated: its configuration differs from Git',
      },
    })
    t.same(statusEvents[0], {
      id: statusEvents[0]?.id,
      path: web,
      from: 'missing',
      to: 'out_of_sync',
      reason: 'service app would be recreated: its configuration differs from Git',
    })
    const list = (await app.inject('/api/stacks')).json() as { path: string; status: string }[]
    t.same(
      list.map((stack) => [stack.path, stack.status]),
      [
        [idle, 'missing'],
        [web, 'out_of_sync'],
      ].sort(),
    )
    t.notOk(
      statusEvents.some((event) => event.path === idle),
      'the unchanged stack was not checked again',
    )
    t.ok(
      app.logs.some((line) => line.msg === 'stack status changed' && line.to === 'out_of_sync'),
      'logged with its reason',
    )
  },
)

t.test('SYNC_MODE: off, detect; apply is refused for now', async (t) => {
  const { loadConfig } = await import('../../services/base/config.js')
  const base = { GIT_REPO_URL: 'https://git.example.com/r.git', GIT_REVISION: 'main' }
  t.equal(loadConfig(base).syncMode, 'detect', 'detect by default')
  t.equal(loadConfig({ ...base, SYNC_MODE: 'off' }).syncMode, 'off')
  t.equal(loadConfig({ ...base, GIT_CACHE_DIR: '/c' }).stacksDir, '/c/stacks')
  t.throws(
    () => loadConfig({ ...base, SYNC_MODE: 'apply' }),
    /SYNC_MODE: apply is not available yet/,
  )
  t.throws(() => loadConfig({ ...base, SYNC_MODE: 'sometimes' }), /SYNC_MODE: must be one of/)
})
