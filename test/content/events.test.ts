import { get } from 'node:http'
import { connect } from 'node:net'
import { EventSource } from 'eventsource'
import t, { type Test } from 'tap'
import { refreshEventSchema, stackStatusEventSchema } from '../../schemas/events.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { sendPush } from '../helpers/github.js'

// The live change feed over a real listener, read by a real EventSource
// client: events for every trigger, resume by Last-Event-ID, reset, the
// heartbeat, and a stalled client that is dropped without holding up anyone.

const SECRET = 'whsec-events-21'
const server = await startGitServer({ token: 'tok-events-8c0f' })
t.teardown(() => server.close())

type Received = { type: string; id: string; data: Record<string, unknown> }

async function setup(t: Test, env: Record<string, string> = {}, heartbeatMs?: number) {
  const repo = createFixtureRepo(server, { stacks: 2 })
  const app = await build(t, configFor(server, repo.url, { WEBHOOK_SECRET: SECRET, ...env }), {
    eventsHeartbeatMs: heartbeatMs,
    backoffInitialMs: 3_600_000,
  })
  await startApp(app)
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  return { repo, app, base }
}

/** A real EventSource client that records every event it receives. */
async function subscribe(t: Test, base: string, lastEventId?: string) {
  const received: Received[] = []
  const source = new EventSource(`${base}/api/events`, {
    fetch: (url, init) =>
      fetch(url, {
        ...init,
        headers: { ...init?.headers, ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
      }),
  })
  for (const type of ['refresh', 'stack-status', 'reset']) {
    source.addEventListener(type, (event) => {
      received.push({ type, id: event.lastEventId, data: JSON.parse(event.data) })
    })
  }
  t.teardown(() => source.close())
  await new Promise((resolve, reject) => {
    source.addEventListener('open', resolve, { once: true })
    source.addEventListener('error', reject, { once: true })
  })
  return { received, source }
}

t.test('refresh events for webhook and manual triggers, failures and no-change', async (t) => {
  const { repo, app, base } = await setup(t)
  const { received } = await subscribe(t, base)

  const head = repo.writeStack('hooked').commitAndPush()
  const res = await sendPush(base, head, SECRET)
  t.equal(res.status, 200)
  await waitFor(() => received.length >= 1, 'the webhook refresh event')
  const hooked = refreshEventSchema.parse(received[0]?.data)
  t.match(hooked, {
    trigger: 'webhook',
    outcome: 'completed',
    revision: head,
    changes: { added: ['hooked'], changed: [], removed: [] },
  })
  t.equal(String(hooked.id), received[0]?.id, 'the data repeats the SSE id')

  await app.desiredState.refresh('manual').done
  await waitFor(() => received.length >= 2, 'the manual refresh event')
  t.match(received[1], {
    type: 'refresh',
    data: {
      trigger: 'manual',
      outcome: 'completed',
      revision: head,
      previousRevision: head,
      changes: { added: [], changed: [], removed: [] },
    },
  })

  await server.stop()
  await app.desiredState.refresh('manual').done
  await server.restart()
  await waitFor(() => received.length >= 3, 'the failed refresh event')
  t.match(received[2]?.data, { outcome: 'failed', reason: 'unreachable', error: /^unreachable: / })

  t.ok(app.desiredState.setStackStatus('hooked', 'syncing'))
  await waitFor(() => received.length >= 4, 'the stack-status event')
  t.same(stackStatusEventSchema.parse(received[3]?.data), {
    id: Number(received[3]?.id),
    path: 'hooked',
    from: 'missing',
    to: 'syncing',
  })
  const ids = received.map((event) => Number(event.id))
  t.same(
    ids,
    [...ids].sort((a, b) => a - b),
    'ids increase',
  )
  t.equal(new Set(ids).size, ids.length)
})

t.test('polling refreshes are announced too', async (t) => {
  const { repo, base } = await setup(t, { REFRESH_POLL_INTERVAL: '200ms' })
  const { received } = await subscribe(t, base)
  const head = repo.writeStack('polled').commitAndPush()
  await waitFor(
    () => received.some((e) => e.data.trigger === 'periodic' && e.data.revision === head),
    'a periodic refresh event with the push',
  )
  const polled = received.find((e) => e.data.revision === head)
  t.match(polled?.data, { changes: { added: ['polled'] } })
})

t.test('a client that reconnects with Last-Event-ID gets what it missed', async (t) => {
  const { repo, app, base } = await setup(t)
  const first = await subscribe(t, base)
  await app.desiredState.refresh('manual').done
  await waitFor(() => first.received.length === 1, 'the first event')
  const lastSeen = first.received[0]?.id as string
  first.source.close()

  repo.writeStack('missed-1').commitAndPush()
  await app.desiredState.refresh('webhook').done
  repo.writeStack('missed-2').commitAndPush()
  await app.desiredState.refresh('manual').done

  const second = await subscribe(t, base, lastSeen)
  await waitFor(() => second.received.length >= 2, 'the missed events')
  t.same(
    second.received.map((e) => [e.type, (e.data.changes as { added: string[] }).added]),
    [
      ['refresh', ['missed-1']],
      ['refresh', ['missed-2']],
    ],
  )
  t.ok(Number(second.received[0]?.id) > Number(lastSeen))
  await app.desiredState.refresh('manual').done
  await waitFor(() => second.received.length === 3, 'live events after the replay')
})

t.test('too old or from before a restart: a reset event', async (t) => {
  const { app, base } = await setup(t)
  const first = await subscribe(t, base)
  app.desiredState.setStackStatus('stack-00000', 'syncing')
  await waitFor(() => first.received.length === 1, 'one event')
  const old = first.received[0]?.id as string
  first.source.close()
  // More than the kept history (1,000 events) happens while it is away.
  for (let i = 0; i < 1001; i++)
    app.desiredState.setStackStatus('stack-00000', i % 2 ? 'syncing' : 'synced')

  const late = await subscribe(t, base, old)
  await waitFor(() => late.received.length >= 1, 'the reset')
  t.match(late.received[0], { type: 'reset', data: { reason: /older than the kept history/ } })

  const fromBefore = await subscribe(t, base, '5')
  await waitFor(() => fromBefore.received.length >= 1, 'the reset')
  t.match(fromBefore.received[0], { type: 'reset', data: { reason: /before a restart/ } })
})

t.test('a heartbeat comment keeps the stream open', async (t) => {
  const { base } = await setup(t, {}, 100)
  let text = ''
  const req = get(`${base}/api/events`, (res) => {
    t.equal(res.headers['content-type'], 'text/event-stream')
    res.on('data', (chunk) => {
      text += chunk
    })
  })
  t.teardown(() => req.destroy())
  await waitFor(() => text.includes(': heartbeat'), 'a heartbeat comment')
  t.pass('heartbeat received')
})

t.test('a stalled subscriber is dropped; the others and refreshes go on', async (t) => {
  const { repo, app, base } = await setup(t)
  const healthy = await subscribe(t, base)
  // A client that asks for the stream and never reads a byte.
  const port = Number(new URL(base).port)
  const stalled = connect(port, '127.0.0.1')
  t.teardown(() => stalled.destroy())
  await new Promise((resolve) => stalled.once('connect', resolve))
  stalled.pause()
  stalled.write('GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n')
  await waitFor(() => app.eventFeed.subscriberCount() === 2, 'both subscribed')

  const long = `stack-${'x'.repeat(200)}`
  repo.writeStack(long).commitAndPush()
  await app.desiredState.refresh('manual').done
  let published = 0
  const dropped = () =>
    app.inject('/metrics').then((r) => /docker_cd_event_subscribers_dropped_total 1\b/.test(r.body))
  // Small bursts, one per turn of the event loop, so a client that reads
  // keeps up while the stalled one falls behind.
  while (!(await dropped()) && published < 200_000) {
    for (let i = 0; i < 20; i++, published++)
      app.desiredState.setStackStatus(long, published % 2 ? 'syncing' : 'synced')
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
  t.ok(await dropped(), `dropped after ${published} events`)
  t.equal(app.eventFeed.subscriberCount(), 1, 'only the healthy one is left')
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, /^docker_cd_event_subscribers 1$/m, 'the subscriber gauge follows')
  const sent = Number(/^docker_cd_events_sent_total (\d+)$/m.exec(metrics)?.[1])
  t.ok(sent >= published, `events sent are counted (${sent})`)

  const head = repo.writeStack('after-drop').commitAndPush()
  t.match(await app.desiredState.refresh('manual').done, { status: 'completed', revision: head })
  await waitFor(
    () => healthy.received.some((e) => e.type === 'refresh' && e.data.revision === head),
    'the healthy client to get the refresh',
    60_000,
  )
  const statusEvents = healthy.received.filter((e) => e.type === 'stack-status').length
  t.equal(statusEvents, published, 'the healthy client missed nothing')
})
