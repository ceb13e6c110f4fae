import type { InjectOptions } from 'fastify'
import t, { type Test } from 'tap'
import { errorSchema } from '../../schemas/api.js'
import {
  refreshAcceptedSchema,
  refreshFinishedSchema,
  refreshStatusSchema,
} from '../../schemas/refresh.js'
import { stackListSchema } from '../../schemas/stack.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// Route tests with inject over a real refresh service and HTTPS Git server.
// Every /api response is also checked against the zod schema the OpenAPI
// document is generated from.

const TOKEN = 'tok-api-90c2d1'
const SECRET = 'whsec-api-3f00'
const server = await startGitServer({ token: TOKEN })
t.teardown(() => server.close())
const bodies: string[] = []

async function setup(t: Test, env: Record<string, string> = {}, options = {}) {
  const repo = createFixtureRepo(server, { stacks: 3 })
  const app = await build(
    t,
    configFor(server, repo.url, { WEBHOOK_SECRET: SECRET, ...env }),
    options,
  )
  const inject = async (options: InjectOptions | string) => {
    const res = await app.inject(typeof options === 'string' ? { url: options } : options)
    bodies.push(res.body)
    return res
  }
  return { repo, app, inject }
}

t.test('refresh answers at once; wait=true answers with the outcome', async (t) => {
  const { repo, app, inject } = await setup(t, { GIT_TIMEOUT: '2s' })
  await startApp(app)
  // Hold the first refresh in a hanging ls-remote so the second is deterministically queued.
  server.setHang(true)
  const sent = server.requests.length
  const first = await inject({ method: 'POST', url: '/api/refresh' })
  t.equal(first.statusCode, 200)
  t.same(refreshAcceptedSchema.parse(first.json()), {
    status: 'refreshing',
    message: 'refresh started',
  })
  await waitFor(() => server.requests.length > sent, 'the hung request')
  const second = await inject({ method: 'POST', url: '/api/refresh' })
  t.same(second.json(), { status: 'queued', message: 'refresh queued behind the running one' })
  const status = await inject('/api/refresh-status')
  t.equal(refreshStatusSchema.parse(status.json()).refreshStatus, 'refreshing')
  server.setHang(false)

  const head = repo.writeStack('waited').commitAndPush()
  const waited = await inject({ method: 'POST', url: '/api/refresh?wait=true' })
  t.same(refreshFinishedSchema.parse(waited.json()), {
    status: 'completed',
    message: 'refresh completed',
    revision: head,
    changes: { added: ['waited'], changed: [], removed: [] },
  })

  await server.stop()
  const failed = await inject({ method: 'POST', url: '/api/refresh?wait=1' })
  await server.restart()
  t.match(refreshFinishedSchema.parse(failed.json()), {
    status: 'failed',
    message: /^unreachable: /,
    revision: head,
  })
  const after = refreshStatusSchema.parse((await inject('/api/refresh-status')).json())
  t.match(after, {
    revision: head,
    ref: 'main',
    refType: 'branch',
    refreshStatus: 'failed',
    trigger: 'manual',
  })
  t.match(after.refreshError, /^unreachable: /)
})

t.test('refresh-status and stacks follow the contract', async (t) => {
  const { app, inject } = await setup(t)
  await startApp(app)
  const status = refreshStatusSchema.strict().parse((await inject('/api/refresh-status')).json())
  t.same(Object.keys(status).sort(), [
    'changes',
    'ref',
    'refType',
    'refreshStatus',
    'refreshedAt',
    'revision',
    'trigger',
  ])
  t.match(status, { refreshStatus: 'completed', trigger: 'startup', refType: 'branch' })
  t.ok(Date.parse(status.refreshedAt ?? '') > 0)

  app.desiredState.setStackStatus('stack-00001', 'synced')
  const stacks = stackListSchema.parse((await inject('/api/stacks')).json())
  t.same(
    stacks.map((s) => [s.path, s.composeFile, s.status]),
    [
      ['stack-00000', 'compose.yaml', 'missing'],
      ['stack-00001', 'compose.yaml', 'synced'],
      ['stack-00002', 'compose.yaml', 'missing'],
    ],
  )
  t.ok(
    stacks.every(
      (s) => Object.keys(s).sort().join() === 'composeFile,composeHash,path,status,treeHash',
    ),
    'no internal fields leak',
  )

  // The reason is part of the stack's status: a change of it alone is in the next list.
  t.ok(
    app.desiredState.setStackStatus('stack-00001', 'out_of_sync', 'service app would be started'),
  )
  t.match(stackListSchema.parse((await inject('/api/stacks')).json())[1], {
    path: 'stack-00001',
    status: 'out_of_sync',
    reason: 'service app would be started',
  })
  t.ok(
    app.desiredState.setStackStatus(
      'stack-00001',
      'out_of_sync',
      'services app, side would be started',
    ),
  )
  const again = stackListSchema.parse((await inject('/api/stacks')).json())
  t.equal(again[1]?.reason, 'services app, side would be started', 'not the cached body')
  t.notOk('reason' in (again[0] ?? {}), 'a stack without a reason has none')
})

t.test('readyz is 503 until the first snapshot; healthz is 200', async (t) => {
  const { app, inject } = await setup(t)
  await app.ready()
  const before = await inject('/readyz')
  t.equal(before.statusCode, 503)
  t.match(errorSchema.parse(before.json()), { statusCode: 503, message: /no snapshot/ })
  t.equal((await inject('/healthz')).statusCode, 200)
  await app.desiredState.refresh('manual').done
  const after = await inject('/readyz')
  t.equal(after.statusCode, 200)
  t.match(after.json(), { status: 'ready', revision: /^[0-9a-f]{40}$/ })
})

t.test('errors are JSON in Fastify shape; 5xx details stay in the log', async (t) => {
  const { app, inject } = await setup(t)
  app.get('/test-only/boom', async () => {
    throw new Error(`database exploded with ${TOKEN}`)
  })
  await startApp(app)
  const notFound = await inject('/api/nope')
  t.equal(notFound.statusCode, 404)
  t.same(notFound.json(), {
    statusCode: 404,
    error: 'Not Found',
    message: 'Route GET:/api/nope not found',
  })
  t.equal((await inject({ method: 'DELETE', url: '/api/stacks' })).statusCode, 404)
  const badQuery = await inject({ method: 'POST', url: '/api/refresh?wait=soon' })
  t.equal(badQuery.statusCode, 400)
  t.match(errorSchema.parse(badQuery.json()), { error: 'Bad Request', message: /wait/ })
  const badJson = await inject({
    method: 'POST',
    url: '/api/refresh',
    payload: '{nope',
    headers: { 'content-type': 'application/json' },
  })
  t.equal(badJson.statusCode, 400)
  errorSchema.parse(badJson.json())

  const boom = await inject('/test-only/boom')
  t.equal(boom.statusCode, 500)
  t.same(boom.json(), {
    statusCode: 500,
    error: 'Internal Server Error',
    message: `Internal Server Error (request id ${boom.json().message.match(/request id (.+)\)/)[1]})`,
  })
  t.notMatch(boom.body, /exploded|stack|at /)
  t.ok(
    app.logs.some(
      (l) => l.msg === 'request failed' && l.level === 50 && typeof l.reqId === 'string',
    ),
  )
})

t.test(
  'metrics expose refreshes, duration, stacks, last success, revision and webhooks',
  async (t) => {
    const { app, inject } = await setup(t)
    await startApp(app)
    await inject({ method: 'POST', url: '/api/refresh?wait=true' })
    const res = await inject('/metrics')
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^text\/plain/)
    t.match(res.body, /docker_cd_refreshes_total\{trigger="startup",outcome="completed"\} 1/)
    t.match(res.body, /docker_cd_refreshes_total\{trigger="manual",outcome="completed"\} 1/)
    t.match(res.body, /docker_cd_refresh_duration_seconds_count\{trigger="manual"\} 1/)
    t.match(res.body, /docker_cd_stacks 3/)
    t.match(res.body, /docker_cd_last_successful_refresh_timestamp_seconds \d+/)
    t.match(
      res.body,
      /docker_cd_revision_info\{revision="[0-9a-f]{40}",ref="main",ref_type="branch"\} 1/,
    )
    t.match(res.body, /process_cpu_seconds_total/)
  },
)

t.test('no response ever contains the token or the webhook secret', async (t) => {
  t.ok(bodies.length > 10)
  const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64')
  for (const body of bodies) {
    t.notOk(body.includes(TOKEN) || body.includes(SECRET) || body.includes(basic))
  }
})

t.test('POST /api/refresh takes no body: a large one is refused unread', async (t) => {
  const { app, inject } = await setup(t)
  await startApp(app)
  const nested = `${'['.repeat(500_000)}${']'.repeat(500_000)}`
  const refusedBefore = app.logs.filter((l) => l.msg === 'refresh started').length
  const res = await inject({
    method: 'POST',
    url: '/api/refresh',
    headers: { 'content-type': 'application/json' },
    payload: nested,
  })
  t.equal(res.statusCode, 413)
  t.match(errorSchema.parse(res.json()), { statusCode: 413, error: 'Payload Too Large' })
  t.equal(
    app.logs.filter((l) => l.msg === 'refresh started').length,
    refusedBefore,
    'no refresh was started',
  )
  const small = await inject({
    method: 'POST',
    url: '/api/refresh',
    headers: { 'content-type': 'application/json' },
    payload: '{}',
  })
  t.equal(small.statusCode, 200, 'an empty JSON object is still fine')
})
