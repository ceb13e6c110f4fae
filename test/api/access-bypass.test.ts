import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { rawStatus } from '../helpers/raw-http.js'

// API_TOKEN cannot be sidestepped by spelling a path differently. Requests
// go over a raw socket so that no client normalises the request line, and
// the route list comes from the app itself, so a route added later is
// covered without touching this file.

const API_TOKEN = 'api-tok-bypass-7f3c0e91d2'
const server = await startGitServer({ token: 'tok-bypass-5b' })
t.teardown(() => server.close())

/** Ways of writing one path that a guard over the raw URL would not recognise. */
function spellings(path: string): string[] {
  const rest = path.slice('/api/'.length)
  return [
    path,
    `/%61pi/${rest}`,
    `/%61%70%69/${rest}`,
    `/api/%${rest.charCodeAt(0).toString(16)}${rest.slice(1)}`,
    `/api%2F${rest}`,
    `/api%2f${rest}`,
    `//api/${rest}`,
    `/api//${rest}`,
    `/API/${rest}`,
    `/Api/${rest}`,
    `http://x${path}`,
    `http://127.0.0.1${path}`,
    `http://x/%61pi/${rest}`,
    `${path}?`,
    `${path}#x`,
    `${path}/`,
  ]
}

async function setup(t: Test) {
  const repo = createFixtureRepo(server, { stacks: 1 })
  // The rejection limiter would answer 429 after ten refusals; every
  // request here must meet the token check itself.
  const app = await build(t, configFor(server, repo.url, { API_TOKEN }), {
    rejectionsPerMinute: 100_000,
  })
  await startApp(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const stack = app.desiredState.current().stacks[0]?.path ?? ''
  const apiRoutes = app.routeTable
    .filter((route) => route.url.startsWith('/api/'))
    .map((route) => ({ ...route, path: route.url.replace(/:[a-z]+/gi, stack) }))
  return { app, port, apiRoutes }
}

t.test('every /api route except the webhook is protected, by default', async (t) => {
  const { apiRoutes } = await setup(t)
  t.ok(apiRoutes.length >= 10, `${apiRoutes.length} /api routes registered`)
  t.same(
    [...new Set(apiRoutes.filter((route) => !route.needsApiToken).map((route) => route.url))],
    ['/api/webhook'],
    'the webhook is the only public /api route',
  )
})

t.test('no spelling of an /api path, no method, reaches a route without the token', async (t) => {
  const { port, apiRoutes } = await setup(t)
  const protectedRoutes = apiRoutes.filter((route) => route.needsApiToken)
  let checked = 0
  for (const route of protectedRoutes) {
    for (const method of [route.method, 'OPTIONS']) {
      for (const target of spellings(route.path)) {
        const status = await rawStatus(port, method, target)
        checked++
        if (![400, 401, 404].includes(status))
          t.fail(`${method} ${target} answered ${status} without the token`)
      }
    }
  }
  t.pass(`${checked} requests without the token: each 400, 401 or 404`)
  // The canonical spelling is refused for the token's sake, not for being unknown.
  for (const route of protectedRoutes)
    t.equal(await rawStatus(port, route.method, route.path), 401, `${route.method} ${route.path}`)
})

t.test('the same table with the token: the routes answer', async (t) => {
  const { port, apiRoutes } = await setup(t)
  const auth = [`Authorization: Bearer ${API_TOKEN}`, 'Accept: text/event-stream, */*']
  for (const route of apiRoutes.filter((route) => route.needsApiToken)) {
    for (const target of spellings(route.path)) {
      const status = await rawStatus(port, route.method, target, auth)
      t.not(status, 401, `${route.method} ${target} with the token is not refused for it`)
    }
    const status = await rawStatus(port, route.method, route.path, auth)
    // A manual sync and an image check with SYNC_MODE=off (this app's) are
    // refused for the mode, a notification test without channels (none
    // configured here) for that: 409.
    const refusedForState = ['/sync', '/notifications/test', '/images/check'].some((end) =>
      route.url.endsWith(end),
    )
    const answered = refusedForState ? status === 409 : status >= 200 && status < 300
    t.ok(answered, `${route.method} ${route.path} → ${status}`)
  }
})
