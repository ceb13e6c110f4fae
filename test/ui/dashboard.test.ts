import { join } from 'node:path'
import t from 'tap'
import { UI_ASSETS } from '../../services/ui/index.js'
import { browserUnavailable, launchBrowser } from '../helpers/browser.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { startReceiver } from '../helpers/notify-receiver.js'

// The dashboard in a real browser: the server-rendered list, then live
// updates from /api/events without a reload — a push (refresh event) and a
// status change (stack-status event) — and the plain page for curl.

const server = await startGitServer({ token: 'tok-ui-3b' })
t.teardown(() => server.close())

t.test(
  'GET /ui in Chromium: every stack, live',
  { skip: browserUnavailable() ?? false },
  async (t) => {
    const repo = createFixtureRepo(server, { stacks: 0 })
    for (const stack of ['api', 'web', 'db']) repo.writeStack(stack)
    repo.commitAndPush('three stacks')
    const app = await build(t, configFor(server, repo.url, { PROJECT_NAME: 'Edge <1>' }))
    await startApp(app)
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const browser = await launchBrowser()
    t.teardown(() => browser.close())
    const page = await browser.newPage()
    await page.goto(`${base}/ui`)
    const rows = () =>
      page
        .locator('tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) => (tr as unknown as { dataset: { path: string } }).dataset.path),
        )
    t.same(await rows(), ['api', 'db', 'web'])
    t.equal(await page.title(), 'Edge <1> · docker-cd', 'the project name is escaped, not markup')
    await page.locator('#conn.live').waitFor()
    // A marker on the window: it survives only if the page is never reloaded.
    await page.evaluate(() => Object.assign(globalThis, { neverReloaded: true }))

    repo.writeStack('cache')
    repo.commitAndPush('a fourth stack')
    await app.desiredState.refresh('manual').done
    await page.locator('tr[data-path="cache"]').waitFor()
    t.same(await rows(), ['api', 'cache', 'db', 'web'], 'the new stack is inserted in order')
    t.equal(await page.locator('#total').textContent(), '4')

    app.desiredState.setStackStatus(
      'web',
      'out_of_sync',
      'service app would be recreated',
      'degraded',
    )
    await page.locator('tr[data-path="web"] .status .out_of_sync').waitFor()
    t.equal(await page.locator('tr[data-path="web"] .health').textContent(), 'degraded')
    t.equal(
      await page.locator('tr[data-path="web"] .reason').textContent(),
      'service app would be recreated',
    )
    await waitFor(
      async () => (await page.locator('#counts').textContent())?.includes('out_of_sync 1'),
      'the counts to follow',
    )
    t.equal(
      await page.evaluate(() => (globalThis as { neverReloaded?: boolean }).neverReloaded),
      true,
    )

    if (process.env.SCREENSHOTS) {
      await page.setViewportSize({ width: 1100, height: 420 })
      await page.screenshot({
        path: join(import.meta.dirname, '..', '..', 'docs', 'ui-stacks.png'),
      })
    }

    // A browser at / goes to the dashboard; curl keeps the text page.
    const html = await fetch(`${base}/`, {
      headers: { accept: 'text/html,*/*' },
      redirect: 'manual',
    })
    t.equal(html.status, 302)
    t.equal(html.headers.get('location'), '/ui')
    t.match((await app.inject({ url: '/', headers: { accept: '*/*' } })).body, /repository:/)
    // Assets: content-hashed names, cached for a year, small.
    let bytes = 0
    for (const asset of UI_ASSETS) {
      const res = await app.inject(`/ui/assets/${asset.file}`)
      t.equal(res.statusCode, 200)
      t.match(res.headers['cache-control'], /immutable/)
      bytes += res.rawPayload.length
    }
    t.ok(bytes < 100_000, `assets are ${bytes} bytes`)
    t.equal((await app.inject('/ui/assets/app.0000.js')).statusCode, 404)
  },
)

t.test(
  'GET /ui in Chromium: the notification channels, by kind and host, with their latest message',
  { skip: browserUnavailable() ?? false },
  async (t) => {
    const ok = await startReceiver()
    const failing = await startReceiver(() => ({ status: 500 }))
    t.teardown(() => ok.close())
    t.teardown(() => failing.close())
    const repo = createFixtureRepo(server, { stacks: 1 })
    const app = await build(
      t,
      configFor(server, repo.url, {
        NOTIFY_URLS: `slack+${ok.url}/services/T1/B1/ui-secret-42, generic+${failing.url}/x?secret=ui-hmac-43`,
      }),
      { notify: { retries: 0 } },
    )
    await startApp(app)
    await app.notify.test()
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const browser = await launchBrowser()
    t.teardown(() => browser.close())
    const page = await browser.newPage()
    await page.goto(`${base}/ui`)
    const rows = await page
      .locator('#notifications tbody tr')
      .evaluateAll((trs) => trs.map((tr) => (tr as unknown as { textContent: string }).textContent))
    t.equal(rows.length, 2)
    t.match(rows[0], new RegExp(`^slack ${ok.url.slice(7)} \\(http\\)\\s*delivered test at `))
    t.match(
      rows[1],
      new RegExp(`^generic ${failing.url.slice(7)} \\(http\\)\\s*dropped test at .*500`),
    )
    t.match(
      await page.locator('#notifications').textContent(),
      'commit statuses: off (COMMIT_STATUS)',
    )
    const html = await page.content()
    t.notMatch(html, 'ui-secret-42')
    t.notMatch(html, 'ui-hmac-43')
  },
)

t.test('with API_TOKEN the pages ask for the token and show nothing else', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 1 })
  const app = await build(
    t,
    configFor(server, repo.url, { API_TOKEN: 'ui-token-0123456789abcdef', TRUST_PROXY: 'true' }),
  )
  await startApp(app)
  for (const url of [
    '/ui',
    '/ui/stacks/stack-00000',
    '/ui/stacks/stack-00000/files/compose.yaml',
  ]) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 401, url)
    t.match(res.body, /<form method="post" action="\/ui\/login"/)
    t.notMatch(res.body, /stack-0/, 'nothing the token protects')
  }
  const wrong = await app.inject({
    method: 'POST',
    url: '/ui/login',
    payload: 'token=nope',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.body, /not the API token/)
  t.notOk(wrong.headers['set-cookie'])
  const right = await app.inject({
    method: 'POST',
    url: '/ui/login',
    payload: 'token=ui-token-0123456789abcdef',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  t.equal(right.statusCode, 303)
  const cookie = String(right.headers['set-cookie'])
  t.match(cookie, /^docker_cd_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict$/)
  t.notMatch(cookie, /ui-token-0123456789abcdef/, 'the cookie is not the token')
  const session = cookie.split(';')[0] as string
  const overHttps = await app.inject({
    method: 'POST',
    url: '/ui/login',
    payload: 'token=ui-token-0123456789abcdef',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-proto': 'https',
    },
  })
  t.match(
    String(overHttps.headers['set-cookie']),
    /; Secure$/,
    'Secure when the request came over HTTPS',
  )
  t.equal((await app.inject({ url: '/api/stacks', headers: { cookie: session } })).statusCode, 200)
  t.equal((await app.inject({ url: '/ui', headers: { cookie: session } })).statusCode, 200)
  const forged = await app.inject({
    method: 'POST',
    url: '/api/refresh',
    headers: { cookie: session },
  })
  t.equal(forged.statusCode, 403, 'a state-changing request by cookie needs the same-origin header')
  const sameOrigin = await app.inject({
    method: 'POST',
    url: '/api/refresh',
    headers: { cookie: session, 'x-docker-cd-request': '1' },
  })
  t.equal(sameOrigin.statusCode, 200)
  t.equal(
    (await app.inject({ url: '/api/stacks', headers: { cookie: 'docker_cd_session=forged' } }))
      .statusCode,
    401,
  )
  const out = await app.inject({ method: 'POST', url: '/ui/logout', headers: { cookie: session } })
  t.match(String(out.headers['set-cookie']), /^docker_cd_session=; .*Max-Age=0/)
  t.notMatch(JSON.stringify(app.logs), /ui-token-0123456789abcdef/, 'the token is in no log line')
})
