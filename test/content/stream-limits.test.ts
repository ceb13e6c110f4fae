import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import type { AppOptions } from '../../app.js'
import { errorSchema } from '../../schemas/api.js'
import { frameOf, mayDeliver, SLOW_CLIENT_BYTES } from '../../services/content/sse-frames.js'
import { createStreamSlots } from '../../services/content/stream-slots.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { descendants } from '../helpers/processes.js'
import { rawRequest } from '../helpers/raw-http.js'

// What one client can hold open: archive downloads and event subscriptions
// are bounded per client and in total, a download nobody reads is ended,
// and a subscriber that does not read is dropped in bounded memory.

const server = await startGitServer({ token: 'tok-limits-9d' })
t.teardown(() => server.close())

async function setup(t: Test, options: Partial<AppOptions> = {}, { bigFile = true } = {}) {
  const repo = createFixtureRepo(server, { stacks: 1 })
  if (bigFile) {
    // Incompressible, and larger than what socket buffers take on loopback.
    repo.writeFile('stack-00000/blob.bin', randomBytes(16 * 1024 * 1024))
    repo.commitAndPush('a big binary file')
  }
  const app = await build(t, configFor(server, repo.url), options)
  await startApp(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  return { app, port }
}
const ARCHIVE = '/api/stacks/stack-00000/archive'
const EVENTS = '/api/events'
const catFiles = () => descendants().filter((args) => args.includes('cat-file')).length

t.test('slots: per client, in total, released once', async (t) => {
  const slots = createStreamSlots({ perClient: 2, total: 3 })
  const a1 = slots.acquire('a')
  const a2 = slots.acquire('a')
  t.same(slots.acquire('a'), { refused: { scope: 'client', limit: 2 } })
  const b1 = slots.acquire('b')
  t.same(slots.acquire('c'), { refused: { scope: 'total', limit: 3 } })
  if (!('release' in a1) || !('release' in a2) || !('release' in b1)) throw new Error('refused')
  a1.release()
  a1.release()
  t.equal(slots.inUse(), 2, 'a second release of the same slot frees nothing more')
  t.ok('release' in slots.acquire('c'), 'a freed slot is taken again')
})

/** Holds two stalled downloads open, then asks for a third: its answer. */
async function thirdDownload(t: Test, port: number) {
  const held = [
    rawRequest(port, 'GET', ARCHIVE, { stallAfterHead: true }),
    rawRequest(port, 'GET', ARCHIVE, { stallAfterHead: true }),
  ]
  for (const download of held) t.equal((await download.head).status, 200)
  const third = rawRequest(port, 'GET', ARCHIVE)
  const answer = await third.head
  third.socket.destroy()
  t.match(answer.headers, /\r\nretry-after: 5\r\n/i)
  t.match(answer.headers, /content-type: application\/json/i)
  return { held, answer, body: JSON.parse(answer.body.slice(answer.body.indexOf('{'))) }
}

t.test('archive downloads: a client past its limit gets 429 with Retry-After', async (t) => {
  const { port } = await setup(t, { streamLimits: { archives: { perClient: 2, total: 10 } } })
  const { held, answer, body } = await thirdDownload(t, port)
  t.equal(answer.status, 429)
  t.match(errorSchema.parse(body), { statusCode: 429, message: /already has 2 archive downloads/ })

  held[0]?.socket.destroy()
  await waitFor(async () => {
    const again = rawRequest(port, 'GET', ARCHIVE, { stallAfterHead: true })
    const status = (await again.head).status
    again.socket.destroy()
    return status === 200
  }, 'a slot freed by a closed download')
  held[1]?.socket.destroy()
})

t.test('archive downloads: past the total, 503 with Retry-After', async (t) => {
  const { port } = await setup(t, { streamLimits: { archives: { perClient: 5, total: 2 } } })
  const { held, answer, body } = await thirdDownload(t, port)
  t.equal(answer.status, 503)
  t.match(body, { statusCode: 503, message: /the service already serves 2 archive downloads/ })
  for (const { socket } of held) socket.destroy()
})

t.test('a download whose client stops reading is ended, and its git with it', async (t) => {
  const { app, port } = await setup(t, { streamLimits: { archiveIdleMs: 300 } })
  const stalled = rawRequest(port, 'GET', ARCHIVE, { stallAfterHead: true })
  t.equal((await stalled.head).status, 200)
  t.equal(app.streamLimits.archives.inUse(), 1)
  await waitFor(() => app.streamLimits.archives.inUse() === 0, 'the stalled download ended')
  await waitFor(() => catFiles() === 0, 'its git cat-file gone')
  t.ok(
    app.logs.some((line) => line.msg === 'archive download ended: the client stopped reading'),
    'logged with the reason',
  )
  stalled.socket.destroy()
})

t.test('event subscriptions: 429 past the per-client limit, 503 past the total', async (t) => {
  const perClient = await setup(
    t,
    { streamLimits: { subscribers: { perClient: 2, total: 10 } } },
    { bigFile: false },
  )
  const open = [
    rawRequest(perClient.port, 'GET', EVENTS),
    rawRequest(perClient.port, 'GET', EVENTS),
  ]
  for (const stream of open) t.equal((await stream.head).status, 200)
  const refused = rawRequest(perClient.port, 'GET', EVENTS)
  const answer = await refused.head
  t.equal(answer.status, 429)
  t.match(answer.headers, /\r\nretry-after: 5\r\n/i)
  t.match(answer.body, /already has 2 event subscriptions/)
  for (const { socket } of [...open, refused]) socket.destroy()
  await waitFor(() => perClient.app.eventFeed.subscriberCount() === 0, 'subscribers let go')
  t.equal(perClient.app.streamLimits.subscribers.inUse(), 0, 'and their slots')

  const total = await setup(
    t,
    { streamLimits: { subscribers: { perClient: 5, total: 1 } } },
    { bigFile: false },
  )
  const one = rawRequest(total.port, 'GET', EVENTS)
  t.equal((await one.head).status, 200)
  const beyond = rawRequest(total.port, 'GET', EVENTS)
  t.equal((await beyond.head).status, 503)
  one.socket.destroy()
  beyond.socket.destroy()
})

t.test('a subscriber that does not read is dropped; one that reads gets everything', async (t) => {
  const { app, port } = await setup(t, {}, { bigFile: false })
  const reader = rawRequest(port, 'GET', EVENTS)
  let read = 0
  reader.socket.on('data', (chunk: string) => {
    read += chunk.length
  })
  const stalled = rawRequest(port, 'GET', EVENTS, { stallAfterHead: true })
  for (const stream of [reader, stalled]) t.equal((await stream.head).status, 200)
  await waitFor(() => app.eventFeed.subscriberCount() === 2, 'both subscribed')
  // Events of ~300 KB until the non-reader's socket buffers are full and
  // the bound drops it; the reader keeps up.
  const path = 'x'.repeat(300 * 1024)
  let published = 0
  await waitFor(async () => {
    app.eventFeed.observer.stackStatusChanged?.({ path, from: 'missing', to: 'synced' })
    published++
    await new Promise((resolve) => setImmediate(resolve))
    return app.eventFeed.subscriberCount() === 1 || published > 400
  }, 'the non-reader dropped')
  t.equal(app.eventFeed.subscriberCount(), 1, `dropped after ${published} events`)
  await waitFor(() => read >= published * path.length, 'the reader got every event')
  t.ok(
    app.logs.some((line) => line.msg === 'event subscriber dropped' && line.reason === 'slow'),
    'the drop is logged with its reason',
  )
  reader.socket.destroy()
  stalled.socket.destroy()
})

t.test('frames are formatted once per event; the buffer bound', async (t) => {
  const event = Object.freeze({ id: 7, event: 'refresh' as const, data: { id: 7, a: 'b' } })
  t.equal(frameOf(event), frameOf(event), 'one Buffer, shared by every subscriber')
  t.equal(frameOf(event).toString(), 'id: 7\nevent: refresh\ndata: {"id":7,"a":"b"}\n\n')
  t.ok(mayDeliver(0, 10 * SLOW_CLIENT_BYTES), 'an idle socket takes even an oversized frame')
  t.ok(mayDeliver(SLOW_CLIENT_BYTES - 100, 100), 'up to the bound')
  t.notOk(mayDeliver(SLOW_CLIENT_BYTES - 100, 101), 'never past it')
  t.notOk(mayDeliver(1, SLOW_CLIENT_BYTES), 'a busy socket does not take an oversized frame')
})
