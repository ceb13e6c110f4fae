import t from 'tap'
import { build, configFor, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// Liveness and load shedding (plugins/health.ts): a lagging event loop makes
// every route answer 503 until it recovers; memory alone never does.

const server = await startGitServer({ token: 'tok-health-77e' })
t.teardown(() => server.close())

const busyFor = (ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {}
}

t.test('a lagging event loop: every route 503 with Retry-After, then back to 200', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 1 })
  const app = await build(t, configFor(server, repo.url), { maxEventLoopDelayMs: 200 })
  await app.ready()
  const healthy = await app.inject('/healthz')
  t.equal(healthy.statusCode, 200)
  t.match(healthy.json(), { status: 'ok', eventLoopDelayMs: Number, heapUsedBytes: Number })

  busyFor(1_500)
  const shed = await waitFor(async () => {
    const res = await app.inject('/healthz')
    return res.statusCode === 503 ? res : null
  }, '/healthz to report the lag')
  t.equal(shed?.headers['retry-after'], '10')
  t.match(shed?.json(), { statusCode: 503, message: /under pressure/ })
  t.equal((await app.inject('/api/stacks')).statusCode, 503, 'other routes shed load too')

  await waitFor(
    async () => (await app.inject('/healthz')).statusCode === 200,
    'the service to recover once the loop is idle',
  )
  t.pass('recovered')
})

t.test('a large resident set with an idle loop is healthy (no permanent 503)', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 1 })
  const app = await build(t, configFor(server, repo.url))
  await app.ready()
  // 1.6 GB resident, past the RSS limit @fastify/under-pressure was set to
  // (1.5 GiB): memory the process holds but no longer works on.
  const held = Buffer.alloc(1_600_000_000, 1)
  await waitFor(
    async () => ((await app.inject('/healthz')).json().rssBytes ?? 0) > 1_600_000_000,
    'a sample that sees the resident set',
  )
  const res = await app.inject('/healthz')
  t.equal(res.statusCode, 200, 'still alive and serving')
  t.equal((await app.inject('/api/stacks')).statusCode, 200)
  t.equal(held.length, 1_600_000_000)
})
