import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { errorSchema } from '../../schemas/api.js'
import { foreignOriginReason } from '../../services/base/index.js'
import { browserUnavailable, launchBrowser } from '../helpers/browser.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// The dashboard's web surface: security headers on every response (the
// dashboard still works under its Content-Security-Policy, and a page of
// another origin cannot frame it), and login/logout only from its own
// pages (a foreign page's attempts neither lock the operator out nor log
// the operator out). The hostile page is served by a second HTTP server on
// another port of the same host: same site, another origin.

const API_TOKEN = 'ui-surface-token-6d2f0a93'
const server = await startGitServer({ token: 'tok-surface-4c' })
t.teardown(() => server.close())

async function setup(t: Test, env: Record<string, string> = { API_TOKEN }) {
  const repo = createFixtureRepo(server, { stacks: 2 })
  const app = await build(t, configFor(server, repo.url, env))
  await startApp(app)
  return app
}

const form = (token: string, headers: Record<string, string> = {}) => ({
  method: 'POST' as const,
  url: '/ui/login',
  payload: `token=${token}`,
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
})

t.test('every response carries CSP, X-Frame-Options and nosniff', async (t) => {
  const app = await setup(t)
  for (const url of [
    '/',
    '/ui',
    '/ui/stacks/stack-00000',
    '/api/stacks',
    '/healthz',
    '/docs',
    '/nope',
    // Refused before routing (a parameter past the router's limit).
    `/api/stacks/${'x'.repeat(1100)}`,
  ]) {
    const res = await app.inject(url)
    t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/, url)
    t.match(
      res.headers['content-security-policy'],
      /script-src 'self'(;|$)/,
      `${url}: no inline script`,
    )
    t.equal(res.headers['x-frame-options'], 'DENY', url)
    t.equal(res.headers['x-content-type-options'], 'nosniff', url)
  }
  const docs = await app.inject('/docs')
  t.notMatch(docs.body, /<script>/, 'the docs page has no inline script left')
})

t.test('the origin check', async (t) => {
  const own = 'http://127.0.0.1:8080'
  t.equal(foreignOriginReason({}, own), undefined, 'no browser headers: not a web page')
  t.equal(foreignOriginReason({ origin: own, 'sec-fetch-site': 'same-origin' }, own), undefined)
  t.equal(foreignOriginReason({ 'sec-fetch-site': 'none' }, own), undefined)
  t.match(foreignOriginReason({ 'sec-fetch-site': 'cross-site' }, own), /cross-site/)
  t.match(
    foreignOriginReason({ origin: 'http://127.0.0.1:9999', 'sec-fetch-site': 'same-site' }, own),
    /same-site/,
    'another port of the same host is the same site, not the same origin',
  )
  t.match(foreignOriginReason({ origin: 'http://127.0.0.1:9999' }, own), /127\.0\.0\.1:9999/)
  t.match(foreignOriginReason({ origin: 'null' }, own), /opaque origin/)
})

t.test('cross-site login attempts are refused and do not count toward the lockout', async (t) => {
  const app = await setup(t)
  for (let attempt = 0; attempt < 15; attempt++) {
    const res = await app.inject(
      form('wrong', { origin: 'http://evil.test', 'sec-fetch-site': 'cross-site' }),
    )
    t.equal(res.statusCode, 403)
    t.match(errorSchema.parse(res.json()), { message: /accept only its own forms/ })
  }
  const sameSite = await app.inject(
    form(API_TOKEN, { origin: 'http://localhost:80', 'sec-fetch-site': 'same-site' }),
  )
  t.equal(sameSite.statusCode, 403, 'even with the right token: only the own page logs in')
  const own = await app.inject(
    form(API_TOKEN, {
      origin: 'http://localhost:80',
      'sec-fetch-site': 'same-origin',
      host: 'localhost:80',
    }),
  )
  t.equal(own.statusCode, 303, 'the operator is not locked out')
  t.match(String(own.headers['set-cookie']), /^docker_cd_session=\w/)
  const session = String(own.headers['set-cookie']).split(';')[0] as string
  const foreignLogout = await app.inject({
    method: 'POST',
    url: '/ui/logout',
    headers: { cookie: session, origin: 'http://evil.test', 'sec-fetch-site': 'cross-site' },
  })
  t.equal(foreignLogout.statusCode, 403)
  t.notOk(foreignLogout.headers['set-cookie'], 'the session is not cleared')
  // The operator's own wrong attempts still count (ten per minute).
  for (let attempt = 0; attempt < 10; attempt++)
    t.equal((await app.inject(form('wrong'))).statusCode, 401)
  t.equal((await app.inject(form(API_TOKEN))).statusCode, 429, 'the lockout itself still works')
})

/** A page of another origin (another port of this host), as an attacker would serve it. */
async function hostilePages(t: Test, target: string) {
  const pages: Record<string, string> = {
    '/frame': `<!doctype html><title>framing</title>
<iframe id="victim" src="${target}/ui" width="800" height="400"></iframe>
<script>document.getElementById('victim').onload = () => { document.title = 'frame loaded' }</script>`,
    '/attack': `<!doctype html><title>attacking</title>
<iframe name="sink"></iframe>
<form id="logout" method="post" action="${target}/ui/logout" target="sink"></form>
<script>
(async () => {
  for (let i = 0; i < 11; i++)
    await fetch('${target}/ui/login', { method: 'POST', mode: 'no-cors',
      body: new URLSearchParams({ token: 'wrong-' + i }) }).catch(() => {})
  document.querySelector('iframe[name=sink]').onload = () => { document.title = 'attack done' }
  document.getElementById('logout').submit()
})()
</script>`,
  }
  const hostile = createServer((request, response) => {
    response.setHeader('content-type', 'text/html; charset=utf-8')
    response.end(pages[request.url ?? ''] ?? 'no such page')
  })
  hostile.listen(0, '127.0.0.1')
  await once(hostile, 'listening')
  t.teardown(() => hostile.close())
  return `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`
}

t.test(
  'in Chromium: the dashboard works under its CSP; another origin can neither frame it nor log in or out',
  { skip: browserUnavailable() ?? false },
  async (t) => {
    const app = await setup(t)
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const evil = await hostilePages(t, base)
    const browser = await launchBrowser()
    t.teardown(() => browser.close())
    const context = await browser.newContext()
    const page = await context.newPage()
    const violations: string[] = []
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text()))
        violations.push(`${page.url()}: ${message.text()}`)
    })

    // The operator logs in and the dashboard runs: its script (the live
    // badge over /api/events) and its stylesheet, both under the CSP.
    const first = await page.goto(`${base}/ui`)
    t.equal(first?.status(), 401)
    await page.fill('input[name=token]', API_TOKEN)
    const [loggedIn] = await Promise.all([
      page.waitForNavigation(),
      page.click('form.login button'),
    ])
    t.equal(loggedIn?.status(), 200)
    const headers = (await loggedIn?.allHeaders()) ?? {}
    t.match(headers['content-security-policy'], /frame-ancestors 'none'/, "the browser's view")
    t.equal(headers['x-frame-options'], 'DENY')
    t.equal(headers['x-content-type-options'], 'nosniff')
    await page.locator('#conn.live').waitFor()
    t.equal(
      // A string: the test's own TypeScript knows no DOM.
      await page.evaluate("getComputedStyle(document.querySelector('header')).display"),
      'flex',
      'the stylesheet applies',
    )
    await page.goto(`${base}/ui/stacks/stack-00000`)
    await page.locator('#conn.live').waitFor()
    await page.goto(`${base}/docs`)
    await page.locator('.swagger-ui .info').waitFor()
    t.same(violations, [], 'nothing of its own is blocked by the policy')

    // Another origin frames the dashboard (the browser holds a session).
    const framing = await context.newPage()
    const refusals: string[] = []
    framing.on('console', (message) => refusals.push(message.text()))
    await framing.goto(`${evil}/frame`)
    await waitFor(async () => (await framing.title()) === 'frame loaded', 'the frame to settle')
    const frame = framing.frames().find((f) => f !== framing.mainFrame())
    t.ok(frame, 'the frame exists')
    t.equal(
      await frame?.locator('header h1, #conn').count(),
      0,
      'the dashboard is not rendered inside the frame',
    )
    t.match(refusals.join('\n'), /frame-ancestors 'none'/, 'Chromium says why')

    // Another origin posts wrong tokens and a logout form.
    const attack = await context.newPage()
    await attack.goto(`${evil}/attack`)
    await waitFor(async () => (await attack.title()) === 'attack done', 'the attack to finish')
    const still = await page.goto(`${base}/ui`)
    t.equal(still?.status(), 200, 'the operator is still logged in')
    await page.click('form.logout button')
    await page.locator('form.login').waitFor()
    await page.fill('input[name=token]', API_TOKEN)
    const [again] = await Promise.all([page.waitForNavigation(), page.click('form.login button')])
    t.equal(again?.status(), 200, 'and not locked out: the foreign attempts did not count')
  },
)
