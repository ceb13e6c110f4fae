import { createHmac } from 'node:crypto'
import t, { type Test } from 'tap'
import { errorSchema } from '../../schemas/api.js'
import { notificationsStatusSchema, notificationTestSchema } from '../../schemas/notify.js'
import { build, configFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { type Receiver, startReceiver } from '../helpers/notify-receiver.js'

// GET /api/notifications and POST /api/notifications/test on a real app,
// with real receivers on loopback: the test needs API_TOKEN (it makes the
// service call out), answers with one result per channel after exactly one
// request each, and nothing the API shows carries a channel's secret.

const API_TOKEN = 'api-tok-notify-7c2e91d04b5a'
// A Slack-style webhook path (the path is the credential) and a generic
// receiver's signing secret (a query parameter that must never travel).
const SLACK_PATH = '/services/T0NOTIFY/B0TEST42/hUsHwEbHoOkToKeN9931'
const SLACK_TOKEN = 'hUsHwEbHoOkToKeN9931'
const GENERIC_SECRET = 'generic-sig-secret-d41d8c'
const bearer = { authorization: `Bearer ${API_TOKEN}` }

const git = await startGitServer({ token: 'tok-notifications-api' })
t.teardown(() => git.close())
const repo = createFixtureRepo(git, { stacks: 1 })

async function receiver(t: Test, status: number): Promise<Receiver> {
  const started = await startReceiver(() => ({ status }))
  t.teardown(() => started.close())
  return started
}

t.test('without API_TOKEN the test is refused with 403, as JSON', async (t) => {
  const ok = await receiver(t, 200)
  const app = await build(
    t,
    configFor(git, repo.url, { NOTIFY_URLS: `generic+${ok.url}/hook?secret=${GENERIC_SECRET}` }),
  )
  const res = await app.inject({ method: 'POST', url: '/api/notifications/test' })
  t.equal(res.statusCode, 403)
  t.match(res.headers['content-type'], /^application\/json/)
  t.match(errorSchema.parse(res.json()), {
    statusCode: 403,
    message: /needs API_TOKEN configured/,
  })
  t.equal(ok.requests.length, 0, 'nothing was sent')
  const status = await app.inject('/api/notifications')
  t.equal(status.statusCode, 200, 'the list is readable without a token when none is set')
})

t.test('with API_TOKEN: 401 without the bearer, 409 without channels', async (t) => {
  const app = await build(t, configFor(git, repo.url, { API_TOKEN }))
  const anonymous = await app.inject({ method: 'POST', url: '/api/notifications/test' })
  t.equal(anonymous.statusCode, 401)
  t.match(errorSchema.parse(anonymous.json()), { statusCode: 401 })
  t.equal((await app.inject('/api/notifications')).statusCode, 401, 'the list too')

  const res = await app.inject({
    method: 'POST',
    url: '/api/notifications/test',
    headers: bearer,
  })
  t.equal(res.statusCode, 409)
  t.match(res.headers['content-type'], /^application\/json/)
  t.match(errorSchema.parse(res.json()), {
    statusCode: 409,
    message: /no notification channel is configured: set NOTIFY_URLS/,
  })
  const list = await app.inject({ url: '/api/notifications', headers: bearer })
  t.equal(list.statusCode, 200)
  t.same(notificationsStatusSchema.parse(list.json()).channels, [])
  t.equal(list.json().commitStatus, null)
})

t.test('the test: one request per receiver, delivered or dropped with a reason', async (t) => {
  const ok = await receiver(t, 200)
  const failing = await receiver(t, 500)
  const app = await build(
    t,
    configFor(git, repo.url, {
      API_TOKEN,
      INSTANCE_NAME: 'api-test-1',
      NOTIFY_URLS: [
        `generic+${ok.url}/hook?secret=${GENERIC_SECRET}`,
        `slack+${failing.url}${SLACK_PATH}`,
      ].join('\n'),
    }),
  )
  const okHost = new URL(ok.url).host
  const failingHost = new URL(failing.url).host

  const res = await app.inject({
    method: 'POST',
    url: '/api/notifications/test',
    headers: bearer,
  })
  t.equal(res.statusCode, 200)
  const { results } = notificationTestSchema.parse(res.json())
  t.equal(results.length, 2, 'one result per channel')
  t.match(results, [
    {
      channel: `generic ${okHost} (http)`,
      kind: 'generic',
      event: 'test',
      outcome: 'delivered',
      attempts: 1,
    },
    {
      channel: `slack ${failingHost} (http)`,
      kind: 'slack',
      event: 'test',
      outcome: 'dropped',
      reason: /500/,
      attempts: 1,
    },
  ])
  t.equal(results[0]?.reason, undefined, 'a delivery has no reason')

  // The app's queue is idle: no retry of the 500 is pending or arrives later.
  await app.notify.settled()
  t.equal(ok.requests.length, 1, 'exactly one request to the 200 receiver')
  t.equal(failing.requests.length, 1, 'exactly one request to the 500 receiver: no retry')

  const [generic] = ok.requests
  t.equal(generic?.path, '/hook', 'the secret= parameter never travels')
  t.match(JSON.parse(generic?.body.toString() ?? '{}'), {
    version: 1,
    event: 'test',
    instance: 'api-test-1',
  })
  t.equal(
    generic?.headers['x-docker-cd-signature-256'],
    `sha256=${createHmac('sha256', GENERIC_SECRET)
      .update(generic?.body ?? '')
      .digest('hex')}`,
    'signed with the secret, as a receiver checks it',
  )
  t.equal(failing.requests[0]?.path, SLACK_PATH, 'Slack gets its webhook path')

  const list = await app.inject({ url: '/api/notifications', headers: bearer })
  t.equal(list.statusCode, 200)
  const status = notificationsStatusSchema.parse(list.json())
  t.match(status.channels, [
    {
      channel: `generic ${okHost} (http)`,
      kind: 'generic',
      queued: 0,
      last: { outcome: 'delivered' },
    },
    {
      channel: `slack ${failingHost} (http)`,
      kind: 'slack',
      queued: 0,
      last: { outcome: 'dropped' },
    },
  ])
  for (const [what, text] of [
    ['the test answer', res.body],
    ['the channel list', list.body],
    ['the log', JSON.stringify(app.logs)],
  ] as const)
    for (const secret of [SLACK_TOKEN, '/services/T0NOTIFY', GENERIC_SECRET, API_TOKEN])
      t.notOk(text.includes(secret), `${what} does not show ${secret}`)
})

t.test('a body over the limit is refused with 413, as JSON, and nothing is sent', async (t) => {
  const ok = await receiver(t, 200)
  const app = await build(
    t,
    configFor(git, repo.url, { API_TOKEN, NOTIFY_URLS: `generic+${ok.url}/hook` }),
  )
  const res = await app.inject({
    method: 'POST',
    url: '/api/notifications/test',
    headers: { ...bearer, 'content-type': 'application/json' },
    payload: JSON.stringify({ note: 'x'.repeat(200) }),
  })
  t.equal(res.statusCode, 413)
  t.match(res.headers['content-type'], /^application\/json/)
  t.match(errorSchema.parse(res.json()), { statusCode: 413 })
  await app.notify.settled()
  t.equal(ok.requests.length, 0)
})

t.test('a malformed JSON body is refused with 400, as JSON, and nothing is sent', async (t) => {
  const ok = await receiver(t, 200)
  const app = await build(
    t,
    configFor(git, repo.url, { API_TOKEN, NOTIFY_URLS: `generic+${ok.url}/hook` }),
  )
  for (const payload of ['', '{'])
    t.match(
      errorSchema.parse(
        (
          await app.inject({
            method: 'POST',
            url: '/api/notifications/test',
            headers: { ...bearer, 'content-type': 'application/json' },
            payload,
          })
        ).json(),
      ),
      { statusCode: 400, message: /content-type is set to 'application\/json'/ },
      `body ${JSON.stringify(payload)}`,
    )
  const empty = await app.inject({
    method: 'POST',
    url: '/api/notifications/test',
    headers: { ...bearer, 'content-type': 'application/json' },
    payload: '{}',
  })
  t.equal(empty.statusCode, 200, 'an empty JSON object is fine')
  await app.notify.settled()
  t.equal(ok.requests.length, 1, 'only the well-formed request sent a test message')
})

t.test('/openapi.json documents both routes', async (t) => {
  const app = await build(t, configFor(git, repo.url))
  const res = await app.inject('/openapi.json')
  t.equal(res.statusCode, 200)
  const doc = res.json()
  const list = doc.paths['/api/notifications']?.get
  const test = doc.paths['/api/notifications/test']?.post
  t.ok(list, 'GET /api/notifications')
  t.ok(test, 'POST /api/notifications/test')
  t.same(Object.keys(list?.responses ?? {}), ['200'], 'the list answers 200')
  t.same(
    Object.keys(test?.responses ?? {}).sort(),
    ['200', '400', '403', '409', '413', '503'],
    'the test documents each status it sends',
  )
  t.same(test?.tags, ['notifications'])
  t.ok(doc.components.schemas.NotificationsStatus, 'named schema NotificationsStatus')
  t.ok(doc.components.schemas.NotificationTest, 'named schema NotificationTest')
})
