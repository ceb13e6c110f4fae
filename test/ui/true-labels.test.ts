import t from 'tap'
import { browserUnavailable, launchBrowser } from '../helpers/browser.js'
import { build, configFor, finishedRun, startApp, waitFor } from '../helpers/build.js'
import {
  docker,
  ensureTestImage,
  hostUnavailable,
  removeProject,
  sleeperService,
} from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 31, "every label is true", in Chromium on the real engine: two
// stacks, the last commit touching only one — each stack shows the commit
// that changed it as desired and deployed (with that commit's subject),
// never the repository's head; a commit whose health check fails is
// rolled back — the page says the rolled-back tree runs now (not "Compose
// would change nothing" beside a red badge alone) and shows what the
// failing container's health check printed, read before the rollback
// replaced it; the header says the sync mode.

const unavailable = browserUnavailable() ?? hostUnavailable()
const pid = process.pid

t.test(
  'each stack its own commit; a rolled-back stack says what runs and why',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: `tok-labels-${pid}` })
    t.teardown(() => server.close())
    const [one, two] = [`labels-one-${pid}`, `labels-two-${pid}`]
    for (const stack of [one, two]) t.teardown(() => removeProject(stack))
    const repo = createFixtureRepo(server, { stacks: 0 })
    const stackFile = (health: string) =>
      `services:\n  app:\n${sleeperService(image, `    healthcheck:\n      test: ["CMD-SHELL", "${health}"]\n      interval: 1s\n      timeout: 1s\n      retries: 1\n`)}`
    repo.writeFile(`${one}/compose.yaml`, stackFile('true')).commitAndPush('add stack one')
    const oneCommit = repo.head()
    repo.writeFile(`${two}/compose.yaml`, stackFile('true')).commitAndPush('add stack two')
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        SYNC_TIMEOUT: '30s',
        STACKS_DIR: tempDir('docker-cd-stacks-'),
      }),
      { maxEventLoopDelayMs: 60_000 },
    )
    await startApp(app)
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const detail = async (stack: string) => (await app.inject(`/api/stacks/${stack}`)).json()
    for (const stack of [one, two]) await finishedRun(() => detail(stack), stack)

    // A commit touching stack one alone; stack two's commit stays its own.
    repo
      .writeFile(`${one}/compose.yaml`, stackFile('echo still fine'))
      .commitAndPush('tune stack one')
    const tuned = repo.head()
    await app.inject({ method: 'POST', url: '/api/refresh?wait=sync' })
    const list = (await app.inject('/api/stacks')).json() as { path: string; health?: string }[]
    t.equal(
      list.find((s) => s.path === one)?.health,
      'healthy',
      'the list keeps the health of a stack just redeployed',
    )
    const twoDetail = await detail(two)
    t.not(twoDetail.changedRevision, tuned, 'stack two did not change in the head commit')
    t.equal(twoDetail.sync.deployedRevision, twoDetail.changedRevision)

    const browser = await launchBrowser()
    t.teardown(() => browser.close())
    const page = await browser.newPage()
    await page.goto(`${base}/ui/stacks/${two}`)
    const facts = async () => (await page.locator('table.facts').textContent()) ?? ''
    const twoFacts = await facts()
    t.match(twoFacts, /desired \(Git\)\s*[0-9a-f]{7} add stack two/)
    t.match(twoFacts, /deployed\s*[0-9a-f]{7} add stack two/)
    t.notMatch(twoFacts, /tune stack one/, 'never the head commit of another stack')
    t.match(
      await page.locator('#mode').textContent(),
      /mode apply: deploys what Git changes/,
      'the header says the mode',
    )
    await page.goto(`${base}/ui/stacks/${one}`)
    t.match(await facts(), /desired \(Git\)\s*[0-9a-f]{7} tune stack one/)
    // The container's status is derived from when it started, and stays current.
    const since = page.locator('span.since').first()
    const container = (await detail(one)).containers[0]
    t.equal(
      await since.getAttribute('data-since'),
      docker('inspect', '--format', '{{.State.StartedAt}}', container.name),
    )
    const shown = await since.textContent()
    t.match(shown, /^Up \d+ (second|minute)s?$/)
    await waitFor(
      async () => (await since.textContent()) !== shown,
      'the container status to move on in the browser',
      30_000,
    )
    t.notOk(oneCommit === tuned)

    // A commit whose health check fails: rolled back.
    repo
      .writeFile(`${one}/compose.yaml`, stackFile('echo database-unreachable-marker; exit 1'))
      .commitAndPush('break stack one')
    await app.inject({ method: 'POST', url: '/api/refresh?wait=sync' })
    const failed = await waitFor(
      async () => {
        const d = await detail(one)
        return d.status === 'failed' && d.health === 'healthy' ? d : undefined
      },
      'the failed, rolled-back stack one',
      60_000,
    )
    t.match(failed.history[0].evidence, [
      {
        service: 'app',
        problem: /is unhealthy|exits/,
        healthOutput: /database-unreachable-marker \(exit code 1\)/,
      },
    ])
    await page.goto(`${base}/ui/stacks/${one}`)
    const running = (await page.locator('#running-now').textContent()) ?? ''
    t.match(
      running,
      new RegExp(
        `the rolled-back tree ${failed.sync.rolledBackTo.treeHash.slice(0, 7)} .*the deploy of ${failed.treeHash.slice(0, 7)} failed and was rolled back`,
      ),
    )
    t.match(
      await page.locator('section', { hasText: 'What differs' }).textContent(),
      /Compose would change nothing against the rolled-back tree [0-9a-f]{7}, which runs now/,
    )
    t.match(
      await page.locator('#last-failure pre.health-output').textContent(),
      /database-unreachable-marker \(exit code 1\)/,
      'the failing health check’s output, kept after the rollback',
    )
  },
)

t.test('detect mode says docker-cd will not deploy by itself', async (t) => {
  const server = await startGitServer({ token: `tok-labels-detect-${pid}` })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server, { stacks: 1 })
  const app = await build(t, configFor(server, repo.url, { SYNC_MODE: 'detect' }))
  await startApp(app)
  const page = (await app.inject('/ui')).body
  t.match(page, /mode detect: reports only; docker-cd will not deploy by itself/)
})
