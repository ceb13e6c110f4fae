import { join } from 'node:path'
import t from 'tap'
import { browserUnavailable, launchBrowser } from '../helpers/browser.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// The dashboard with API_TOKEN, in Chromium, on the real engine: log in once,
// the list is live over the session cookie, a stack's page shows its files
// and plan, the Sync button deploys it and the page follows the run.

const API_TOKEN = 'ui-sync-token-0123456789'
const unavailable = browserUnavailable() ?? hostUnavailable()

t.test('log in, open a stack, click Sync', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-ui-sync' })
  t.teardown(() => server.close())
  const stack = `shop-${process.pid}`
  t.teardown(() => removeProject(stack))
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(
      `${stack}/compose.yaml`,
      `services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    env_file: app.env\n`,
    )
    .writeFile(`${stack}/app.env`, 'GREETING=<hello>\n')
  repo.commitAndPush('a stack')
  const app = await build(
    t,
    configFor(server, repo.url, {
      SYNC_MODE: 'detect',
      STACKS_DIR: tempDir('docker-cd-stacks-'),
      API_TOKEN,
    }),
    { maxEventLoopDelayMs: 60_000 },
  )
  await startApp(app)
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  await app.host?.idle()
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const context = await browser.newContext()
  const page = await context.newPage()

  const first = await page.goto(`${base}/ui`)
  t.equal(first?.status(), 401, 'the login form')
  await page.fill('input[name=token]', 'not-the-token-at-all')
  await page.click('form.login button')
  await page.locator('text=That is not the API token.').waitFor()
  await page.fill('input[name=token]', API_TOKEN)
  await page.click('form.login button')
  await page.locator(`tr[data-path="${stack}"]`).waitFor()
  await page.locator('#conn.live').waitFor() // EventSource with the cookie, no proxy
  const [cookie] = await context.cookies()
  t.match(cookie, { name: 'docker_cd_session', httpOnly: true, sameSite: 'Strict', secure: false })
  t.notMatch(page.url(), new RegExp(API_TOKEN), 'no token in the URL')

  await page.click(`a[href="/ui/stacks/${stack}"]`)
  await page.locator('#sync').waitFor()
  t.equal(await page.locator('#status').textContent(), 'missing')
  t.match(await page.locator('.files').textContent(), /app\.env.*compose\.yaml.*Compose file/s)
  t.match(await page.locator('pre.compose').textContent(), /env_file: app\.env/)
  t.match(await page.locator('section', { hasText: 'What differs' }).textContent(), /not deployed/)
  const marker = await page.evaluate(() => Object.assign(globalThis, { sameDocument: 1 }) && 1)
  t.equal(marker, 1)

  // The API by cookie: a state-changing call without the same-origin header is refused.
  const forged = await page.evaluate(
    async (name) => (await fetch(`/api/stacks/${name}/sync`, { method: 'POST' })).status,
    stack,
  )
  t.equal(forged, 403)

  await page.click('#sync')
  await page.locator('#progress li.completed').waitFor({ timeout: 60_000 })
  const steps = await page.locator('#progress li').allTextContents()
  t.match(steps[0], /^syncing: sync of .* started$/, 'the answer to the click first')
  t.same(
    steps.map((line) => line.split(':')[0]).filter((phase) => phase !== 'syncing'),
    ['queued', 'validate', 'pull', 'up', 'wait', 'completed'],
    'then every phase of the run, in order',
  )
  t.match(steps.at(-1), /^completed: deployed tree [0-9a-f]{7}/)
  await page.locator('#status .synced').waitFor()
  await page.locator('table >> text=manual').waitFor() // the history, re-read without a reload
  t.equal(await page.evaluate(() => (globalThis as { sameDocument?: number }).sameDocument), 1)

  if (process.env.SCREENSHOTS) {
    await page.setViewportSize({ width: 1100, height: 900 })
    await page.screenshot({
      path: join(import.meta.dirname, '..', '..', 'docs', 'ui-stack.png'),
      fullPage: true,
    })
  }

  await page.click(`a[href="/ui/stacks/${stack}/files/app.env"]`)
  t.equal(
    await page.locator('main pre').textContent(),
    'GREETING=<hello>\n',
    'escaped, shown as text',
  )

  await page.goto(`${base}/ui`)
  t.equal(await page.locator(`tr[data-path="${stack}"] .deployed`).textContent(), '= Git')
  t.match(
    await page.locator(`tr[data-path="${stack}"]`).textContent(),
    /a stack/,
    'the commit subject',
  )
  await page.click('form.logout button')
  await page.locator('form.login').waitFor()
  t.same(await context.cookies(), [], 'logged out')
})
