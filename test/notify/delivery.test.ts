import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import {
  createDelivery,
  type DeliveryOptions,
  type DeliveryResult,
  type NotifyEvent,
  parseNotifyUrls,
} from '../../services/notify/index.js'
import { freePort } from '../helpers/free-port.js'
import { eventOf, failedEvent } from '../helpers/notify-events.js'
import {
  type Answer,
  type ReceivedRequest,
  startReceiver,
  until,
} from '../helpers/notify-receiver.js'

// Delivery against real HTTP receivers on loopback: retries, Retry-After,
// a receiver that never answers, the queue bound, close()'s grace, the
// generic webhook's signature checked the way a receiver would, and results
// that never carry a URL or token.

async function setup(
  t: Test,
  answer: (request: ReceivedRequest, index: number) => Answer | Promise<Answer>,
  options: Partial<DeliveryOptions> & { path?: string; kind?: string } = {},
) {
  const receiver = await startReceiver(answer)
  const { kind = 'generic', path = '/hook', ...rest } = options
  const { channels, problems } = parseNotifyUrls(`${kind}+${receiver.url}${path}`)
  t.same(problems, [])
  const results: DeliveryResult[] = []
  const delivery = createDelivery({
    channels,
    timeoutMs: 2000,
    retries: 2,
    backoff: () => 20,
    onResult: (result) => results.push(result),
    ...rest,
  })
  t.teardown(async () => {
    await delivery.close(0)
    await receiver.close()
  })
  return { receiver, delivery, results, channel: channels[0] }
}

const stackEvent = (stack: string): NotifyEvent => eventOf('failed', { stack })

t.test('500 then 200: delivered once, after one retry, the same body both times', async (t) => {
  const { receiver, delivery, results } = await setup(t, (_, index) => ({
    status: index === 0 ? 500 : 200,
  }))
  delivery.enqueue(failedEvent)
  await until(() => results.length === 1, 'a result')
  t.match(results[0], { outcome: 'delivered', attempts: 2, event: 'failed', stack: 'web' })
  t.equal(results[0]?.reason, undefined)
  t.equal(receiver.requests.length, 2)
  t.same(receiver.requests[0]?.body, receiver.requests[1]?.body, 'the same message again')
})

t.test('429 with Retry-After in seconds: waits as asked, not the back-off', async (t) => {
  const { receiver, delivery, results } = await setup(t, (_, index) =>
    index === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 },
  )
  delivery.enqueue(failedEvent)
  await until(() => results.length === 1, 'a result')
  t.match(results[0], { outcome: 'delivered', attempts: 2 })
  const gap = (receiver.requests[1]?.at ?? 0) - (receiver.requests[0]?.at ?? 0)
  t.ok(gap >= 950, `second try after the second asked for (${gap} ms)`)
})

t.test('a Retry-After longer than allowed drops the message with the reason', async (t) => {
  const { receiver, delivery, results } = await setup(
    t,
    () => ({ status: 503, headers: { 'retry-after': '3600' } }),
    { maxRetryAfterMs: 60_000 },
  )
  delivery.enqueue(failedEvent)
  await until(() => results.length === 1, 'a result')
  t.match(results[0], {
    outcome: 'dropped',
    attempts: 1,
    reason: 'HTTP 503; the receiver asked to wait 3600s, longer than 60s',
  })
  t.equal(receiver.requests.length, 1)
})

t.test('4xx other than 429 is not retried', async (t) => {
  const { receiver, delivery, results } = await setup(t, () => ({ status: 404 }))
  delivery.enqueue(failedEvent)
  await until(() => results.length === 1, 'a result')
  t.match(results[0], { outcome: 'dropped', attempts: 1, reason: 'HTTP 404' })
  t.equal(receiver.requests.length, 1)
})

t.test(
  'a receiver that never answers: the caller is not held, the message times out and is dropped',
  async (t) => {
    const { receiver, delivery, results } = await setup(t, () => 'hang', {
      timeoutMs: 300,
      retries: 1,
    })
    // enqueue() returns nothing to wait on: the caller goes on before any try ends.
    t.equal(delivery.enqueue(failedEvent), undefined)
    t.equal(results.length, 0, 'nothing settled when enqueue() returns')
    await until(() => results.length === 1, 'a result')
    t.match(results[0], { outcome: 'dropped', attempts: 2, reason: 'timed out after 300ms' })
    t.equal(receiver.requests.length, 2, 'tried twice, each cut off by the timeout')
  },
)

t.test('nobody listening: retried, then dropped as connection refused', async (t) => {
  const port = await freePort()
  const { channels } = parseNotifyUrls(`slack+http://127.0.0.1:${port}/services/A/B/C`)
  const results: DeliveryResult[] = []
  const delivery = createDelivery({
    channels,
    retries: 2,
    backoff: () => 10,
    onResult: (r) => results.push(r),
  })
  delivery.enqueue(failedEvent)
  await until(() => results.length === 1, 'a result')
  t.match(results[0], { outcome: 'dropped', attempts: 3, reason: 'connection refused' })
  await delivery.close(0)
})

t.test('a full queue drops its oldest waiting message, with the reason', async (t) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  const { receiver, delivery, results } = await setup(
    t,
    async (_, index) => {
      if (index === 0) await held
      return { status: 200 }
    },
    { queueLimit: 2 },
  )
  delivery.enqueue(stackEvent('one'))
  await until(() => receiver.requests.length === 1, 'the first message in flight')
  for (const stack of ['two', 'three', 'four', 'five']) delivery.enqueue(stackEvent(stack))
  t.same(
    results.map((r) => [r.stack, r.outcome, r.reason]),
    [
      ['two', 'dropped', 'queue full (2 waiting): oldest message dropped'],
      ['three', 'dropped', 'queue full (2 waiting): oldest message dropped'],
    ],
    'dropped at once, oldest first',
  )
  t.equal(delivery.status()[0]?.queued, 2)
  release()
  await delivery.drained()
  t.same(
    results.slice(2).map((r) => [r.stack, r.outcome]),
    [
      ['one', 'delivered'],
      ['four', 'delivered'],
      ['five', 'delivered'],
    ],
  )
})

t.test('close() flushes what it can within the grace', async (t) => {
  const { receiver, delivery, results } = await setup(t, () => ({ status: 200 }))
  for (const stack of ['a', 'b', 'c']) delivery.enqueue(stackEvent(stack))
  await delivery.close(5000)
  t.same(
    results.map((r) => [r.stack, r.outcome]),
    [
      ['a', 'delivered'],
      ['b', 'delivered'],
      ['c', 'delivered'],
    ],
  )
  t.equal(receiver.requests.length, 3)
})

t.test('close() gives a dead receiver no more than the grace, then drops the rest', async (t) => {
  const { delivery, results } = await setup(t, () => 'hang', { timeoutMs: 30_000 })
  for (const stack of ['a', 'b', 'c']) delivery.enqueue(stackEvent(stack))
  // The receiver never answers and the timeout is 30 s: close() resolving at
  // all (within tap's test timeout) is the grace at work.
  await delivery.close(250)
  t.same(results.map((r) => [r.stack, r.outcome, r.reason]).sort(), [
    ['a', 'dropped', 'not sent before shutdown'],
    ['b', 'dropped', 'not sent before shutdown'],
    ['c', 'dropped', 'not sent before shutdown'],
  ])
  delivery.enqueue(stackEvent('late'))
  t.match(results.at(-1), { stack: 'late', outcome: 'dropped', reason: 'not sent before shutdown' })
})

t.test('close() during a back-off wait does not wait it out', async (t) => {
  const { delivery, results } = await setup(t, () => ({ status: 502 }), {
    backoff: () => 60_000,
  })
  delivery.enqueue(failedEvent)
  await until(() => delivery.status()[0]?.queued === 0, 'the message taken')
  // The back-off is a minute: close() resolving (within tap's test timeout) is the point.
  await delivery.close(100)
  t.match(results[0], { outcome: 'dropped', reason: /^not sent before shutdown/ })
})

t.test(
  'generic webhook: the receiver can verify the signature; the secret never travels',
  async (t) => {
    const secret = 'whsec-notify-7c2e'
    const { receiver, delivery, results } = await setup(t, () => ({ status: 200 }), {
      path: `/hook?secret=${secret}&source=cd`,
    })
    delivery.enqueue(failedEvent)
    await until(() => results.length === 1, 'a result')
    const request = receiver.requests[0] as ReceivedRequest
    t.equal(request.path, '/hook?source=cd')
    t.equal(request.headers['content-type'], 'application/json; charset=utf-8')
    // What a receiver does: HMAC the raw bytes, compare in constant time.
    const header = String(request.headers['x-docker-cd-signature-256'])
    t.match(header, /^sha256=[0-9a-f]{64}$/)
    const expected = createHmac('sha256', secret).update(request.body).digest()
    t.ok(timingSafeEqual(expected, Buffer.from(header.slice(7), 'hex')), 'signature verifies')
    t.same(JSON.parse(request.body.toString('utf8')), failedEvent)
    t.notMatch(JSON.stringify(request.headers) + request.body.toString(), secret)
  },
)

t.test('sendNow: one try per channel, each result answered, nothing retried', async (t) => {
  const good = await startReceiver(() => ({ status: 200 }))
  const bad = await startReceiver(() => ({ status: 500 }))
  t.teardown(() => Promise.all([good.close(), bad.close()]))
  const { channels } = parseNotifyUrls(
    `ntfy+${good.url}/alerts-x1\ngotify+${bad.url}/?token=apptoken-secret`,
  )
  const results: DeliveryResult[] = []
  const delivery = createDelivery({ channels, backoff: () => 10, onResult: (r) => results.push(r) })
  const answered = await delivery.sendNow(
    eventOf('test', { stack: undefined, revision: undefined }),
  )
  t.match(answered, [
    {
      kind: 'ntfy',
      channel: `ntfy ${new URL(good.url).host} (http)`,
      outcome: 'delivered',
      attempts: 1,
      event: 'test',
    },
    { kind: 'gotify', outcome: 'dropped', reason: 'HTTP 500', attempts: 1 },
  ])
  t.equal(bad.requests.length, 1, 'no retry for a test message')
  t.equal(good.requests[0]?.path, '/alerts-x1')
  t.same(delivery.lastResult(channels[1] as (typeof channels)[number]), answered[1])
  t.equal(results.length, 2, 'each result also reported')
  t.notMatch(JSON.stringify(results), /apptoken-secret|alerts-x1/, 'no token or topic in results')
  await delivery.close(0)
})

t.test('every HTTP kind arrives at its receiver as its service expects', async (t) => {
  const receiver = await startReceiver(() => ({ status: 200 }))
  t.teardown(() => receiver.close())
  const { channels, problems } = parseNotifyUrls(
    [
      `generic+${receiver.url}/generic`,
      `slack+${receiver.url}/services/T/B/X`,
      `discord+${receiver.url}/api/webhooks/1/tok`,
      `teams+${receiver.url}/workflows/w/triggers/manual/paths/invoke?sig=s`,
      `ntfy+${receiver.url}/topic`,
      `gotify+${receiver.url}/?token=tok`,
      `apprise+${receiver.url}/notify/key`,
    ].join('\n'),
  )
  t.same(problems, [])
  const delivery = createDelivery({ channels })
  const answered = await delivery.sendNow(failedEvent)
  t.same(
    answered.map((r) => r.outcome),
    Array(7).fill('delivered'),
  )
  const byPath = new Map(receiver.requests.map((r) => [r.path, r]))
  t.same([...byPath.keys()].sort(), [
    '/api/webhooks/1/tok',
    '/generic',
    '/message?token=tok',
    '/notify/key',
    '/services/T/B/X',
    '/topic',
    '/workflows/w/triggers/manual/paths/invoke?sig=s',
  ])
  for (const request of receiver.requests) t.equal(request.method, 'POST', request.path)
  t.match(JSON.parse(String(byPath.get('/services/T/B/X')?.body)), { text: String, blocks: Array })
  t.match(JSON.parse(String(byPath.get('/api/webhooks/1/tok')?.body)), {
    content: String,
    embeds: Array,
  })
  t.match(JSON.parse(String(byPath.get('/message?token=tok')?.body)), {
    title: String,
    message: String,
    priority: 8,
  })
  t.match(JSON.parse(String(byPath.get('/notify/key')?.body)), {
    title: String,
    body: String,
    type: 'failure',
  })
  const ntfy = byPath.get('/topic') as ReceivedRequest
  t.match(ntfy.headers, { title: String, priority: 'high', tags: 'rotating_light,failed' })
  t.match(ntfy.body.toString('utf8'), /^web failed to deploy 3f2a1c0/)
  await delivery.close(0)
})

t.test('a transport that throws or ignores its signal cannot break or hold delivery', async (t) => {
  const { channels } = parseNotifyUrls('slack+https://hooks.slack.com/services/A/B/C')
  const results: DeliveryResult[] = []
  let calls = 0
  const delivery = createDelivery({
    channels,
    timeoutMs: 100,
    retries: 1,
    backoff: () => 5,
    send: () => {
      calls++
      if (calls === 1)
        throw Object.assign(new Error('boom https://hooks.slack.com/services/A/B/C'), {
          code: 'ECONNRESET',
        })
      return new Promise(() => {}) // never settles, ignores the signal
    },
    onResult: (r) => {
      results.push(r)
      throw new Error('a broken logger')
    },
  })
  delivery.enqueue(failedEvent)
  await until(() => results.length === 1, 'a result')
  t.match(results[0], { outcome: 'dropped', attempts: 2, reason: 'timed out after 100ms' })
  t.notMatch(JSON.stringify(results), 'hooks.slack.com/services')
  delivery.enqueue(failedEvent)
  await until(() => results.length === 2, 'the queue still works after onResult threw')
  await delivery.close(0)
})

t.test(
  'a 2xx whose body never ends is one delivery, not a timeout retried into duplicates',
  async (t) => {
    // Hostile receiver: accepts with 200 and a Content-Length it never
    // fulfils. The status already says the message was taken; waiting for
    // the body used to turn it into a timeout, retried: the same message
    // posted four times, and reported as dropped.
    const requests: string[] = []
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        requests.push(req.url ?? '')
        res.writeHead(200, { 'content-length': '1000' })
        res.write('x')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => {
      server.closeAllConnections()
      server.close()
    })
    const { port } = server.address() as AddressInfo
    const { channels } = parseNotifyUrls(`generic+http://127.0.0.1:${port}/hook`)
    const results: DeliveryResult[] = []
    const delivery = createDelivery({
      channels,
      timeoutMs: 300,
      retries: 3,
      backoff: () => 10,
      onResult: (result) => results.push(result),
    })
    t.teardown(() => delivery.close(0))
    delivery.enqueue(failedEvent)
    await until(() => results.length === 1, 'a result')
    t.match(results[0], { outcome: 'delivered', attempts: 1 })
    t.equal(requests.length, 1, 'posted once')
  },
)
