import t from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { startReceiver, until } from '../helpers/notify-receiver.js'

// Shutdown with a receiver that never answers, while someone waits on
// POST /api/notifications/test: the server waits for requests in flight
// before close() reaches the notifier, so the test's one attempt must end
// when shutdown begins — not after its timeout (10 s by default, main.ts's
// whole shutdown deadline; here a minute, which would outlast the test).

const API_TOKEN = `api-token-${process.pid}-shutdown`
const server = await startGitServer({ token: `tok-shutdown-${process.pid}` })
t.teardown(() => server.close())
const repo = createFixtureRepo(server, { stacks: 1 })

t.test('a test message in flight answers "not sent" when shutdown begins', async (t) => {
  const silent = await startReceiver(() => 'hang')
  t.teardown(() => silent.close())
  const app = await build(
    t,
    configFor(server, repo.url, {
      API_TOKEN,
      NOTIFY_URLS: `slack+${silent.url}/services/T/B/secret-${process.pid}`,
    }),
    { notify: { timeoutMs: 60_000 } },
  )
  await startApp(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const answer = fetch(`http://127.0.0.1:${port}/api/notifications/test`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}` },
  }).then(async (response) => ({ status: response.status, body: await response.json() }))
  await until(() => silent.requests.length === 1, 'the test message at the receiver')
  await app.close()
  t.match(await answer, {
    status: 200,
    body: { results: [{ outcome: 'dropped', attempts: 1, reason: 'not sent before shutdown' }] },
  })
})
