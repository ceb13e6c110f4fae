import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { errorSchema } from '../../schemas/api.js'
import { isLoopback, mayReadContent } from '../../services/base/index.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { rawRequest } from '../helpers/raw-http.js'

// Without API_TOKEN (the default), repository file contents — the file
// view, the Compose text on a stack's page, the archive, the Compose bytes —
// go only to clients on this host. Requests from another address are made
// with inject's `remoteAddress` (no other address reaches a socket here),
// and the local case over a real socket from 127.0.0.2.

const API_TOKEN = 'api-tok-content-5e7a21c9d0'
const PASSWORD = 'hunter2-content-access'
const server = await startGitServer({ token: 'tok-content-access-0b' })
t.teardown(() => server.close())

const CONTENT = [
  '/api/stacks/app/archive',
  '/api/stacks/app/compose',
  '/ui/stacks/app/files/.env',
  '/ui/stacks/app/files/compose.yaml',
]

async function setup(t: Test, env: Record<string, string> = {}) {
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeStack('app', `services:\n  app:\n    image: nginx\n    # ${PASSWORD}\n`)
  repo.writeFile('app/.env', `DB_PASSWORD=${PASSWORD}\n`)
  repo.commitAndPush('a stack with a secret')
  const app = await build(t, configFor(server, repo.url, env))
  await startApp(app)
  return app
}

t.test('loopback is 127.0.0.0/8 and ::1, also IPv4-mapped; nothing else', async (t) => {
  for (const address of ['127.0.0.1', '127.0.0.2', '127.255.0.9', '::1', '::ffff:127.0.0.1'])
    t.ok(isLoopback(address), address)
  for (const address of [
    undefined,
    '',
    '10.0.0.5',
    '172.17.0.1',
    '::ffff:10.0.0.5',
    '128.0.0.1',
    '1127.0.0.1',
    'fe80::1',
    '::',
  ])
    t.notOk(isLoopback(address), String(address))
})

t.test('the decision: token, proxy, forwarded requests', async (t) => {
  const client = {
    apiToken: undefined,
    trustProxy: false,
    peerAddress: '127.0.0.1',
    clientAddress: '127.0.0.1',
    forwarded: false,
  }
  t.ok(mayReadContent(client), 'a local client')
  t.notOk(mayReadContent({ ...client, peerAddress: '10.0.0.5', clientAddress: '10.0.0.5' }))
  t.notOk(
    mayReadContent({ ...client, forwarded: true }),
    'a proxy on this host forwarding a client from anywhere',
  )
  t.notOk(
    mayReadContent({ ...client, trustProxy: true, clientAddress: '10.0.0.5' }),
    'behind a trusted proxy: the client it reports',
  )
  t.ok(mayReadContent({ ...client, trustProxy: true, forwarded: true }))
  t.ok(
    mayReadContent({
      ...client,
      apiToken: 'x',
      peerAddress: '10.0.0.5',
      clientAddress: '10.0.0.5',
    }),
    'with API_TOKEN the token decides (api-auth, login)',
  )
})

t.test('no API_TOKEN: a network client gets no file contents, a 403 that says why', async (t) => {
  const app = await setup(t)
  for (const url of CONTENT) {
    const res = await app.inject({ url, remoteAddress: '10.0.0.5' })
    t.equal(res.statusCode, 403, url)
    t.match(errorSchema.parse(res.json()), {
      statusCode: 403,
      error: 'Forbidden',
      message: /repository contents are served only with API_TOKEN configured/,
    })
    t.notMatch(res.body, PASSWORD)
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    const head = await app.inject({ method: 'HEAD', url, remoteAddress: '10.0.0.5' })
    t.equal(head.statusCode, 403, `HEAD ${url}`)
  }
  const page = await app.inject({ url: '/ui/stacks/app', remoteAddress: '10.0.0.5' })
  t.equal(page.statusCode, 200, "the stack's page itself is open")
  t.notMatch(page.body, PASSWORD, 'without the Compose text')
  t.notMatch(page.body, 'href="/ui/stacks/app/files/', 'and without links to files')
  t.match(page.body, /id="content-hidden"/)
  t.match(page.body, /id="open-notice">API_TOKEN is not set/, 'the page says what is open')
  const detail = await app.inject({ url: '/api/stacks/app', remoteAddress: '10.0.0.5' })
  t.equal(detail.statusCode, 200, 'state stays open without a token')
  // A reverse proxy on this host connects from loopback.
  const proxied = await app.inject({
    url: '/api/stacks/app/compose',
    headers: { 'x-forwarded-for': '203.0.113.9' },
  })
  t.equal(proxied.statusCode, 403, 'a forwarded request is not a local one')
})

t.test('no API_TOKEN: a client on this host reads contents', async (t) => {
  const app = await setup(t)
  for (const url of CONTENT) t.equal((await app.inject(url)).statusCode, 200, url)
  const page = await app.inject('/ui/stacks/app')
  t.match(page.body, PASSWORD, 'the Compose text is shown')
  t.notMatch(page.body, /id="content-hidden"/)
  // A real socket from another loopback address: still this host.
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const res = rawRequest(port, 'GET', '/api/stacks/app/compose', { localAddress: '127.0.0.2' })
  t.teardown(() => res.socket.destroy())
  const head = await res.head
  t.equal(head.status, 200)
})

t.test('TRUST_PROXY: the client the proxy reports decides', async (t) => {
  const app = await setup(t, { TRUST_PROXY: 'true' })
  const remote = await app.inject({
    url: '/api/stacks/app/archive',
    headers: { 'x-forwarded-for': '203.0.113.9' },
  })
  t.equal(remote.statusCode, 403)
  const local = await app.inject({
    url: '/api/stacks/app/compose',
    headers: { 'x-forwarded-for': '127.0.0.1' },
  })
  t.equal(local.statusCode, 200)
})

t.test('API_TOKEN set: the token opens contents to any address', async (t) => {
  const app = await setup(t, { API_TOKEN })
  const headers = { authorization: `Bearer ${API_TOKEN}` }
  for (const url of CONTENT.filter((url) => url.startsWith('/api/'))) {
    t.equal((await app.inject({ url, remoteAddress: '10.0.0.5' })).statusCode, 401, url)
    t.equal((await app.inject({ url, headers, remoteAddress: '10.0.0.5' })).statusCode, 200, url)
  }
  const page = await app.inject({ url: '/ui/stacks/app', remoteAddress: '10.0.0.5' })
  t.equal(page.statusCode, 401, 'the dashboard asks for the token')
  t.notMatch(page.body, /open-notice/, 'and says nothing is open')
})
