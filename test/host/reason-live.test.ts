import t from 'tap'
import { browserUnavailable, launchBrowser } from '../helpers/browser.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import {
  compose,
  docker,
  ensureTestImage,
  hostUnavailable,
  removeProject,
} from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { followStackStatus } from '../helpers/status-feed.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 25 ("one view of a stack"), SYNC_MODE=detect on the real engine: a
// stack with two services in sync; one container stopped by hand makes it
// out_of_sync (degraded) with a reason naming it; the second one stopped
// changes neither status nor health, only the reason — which now names
// both. That change reaches a real EventSource client as a `stack-status`
// event (from equals to), the API, and the open dashboard (list and stack
// page) without a reload.

const unavailable = hostUnavailable() ?? browserUnavailable()

t.test(
  'a second container stopped: the new reason is an event, in the API and in the open dashboard',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: 'tok-reason-live-9d' })
    t.teardown(() => server.close())
    const stack = `pair-${process.pid}`
    t.teardown(() => removeProject(stack))
    const service = (name: string) =>
      `  ${name}:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(`${stack}/compose.yaml`, `services:\n${service('app')}${service('side')}`)
      .commitAndPush('a stack of two services')
    const stacksDir = tempDir('docker-cd-stacks-')
    const app = await build(
      t,
      configFor(server, repo.url, { SYNC_MODE: 'detect', STACKS_DIR: stacksDir }),
      // The test's synchronous docker calls can stall the event loop: no load shedding.
      { maxEventLoopDelayMs: 60_000 },
    )
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const { events, next: nextEvent } = await followStackStatus(t, base, stack)
    await startApp(app)
    const detail = async () => (await app.inject(`/api/stacks/${stack}`)).json()

    // In sync: deployed by hand from docker-cd's work tree (detect mode deploys nothing).
    await waitFor(async () => (await detail()).sync, 'the startup check')
    await app.host?.idle()
    const synced = nextEvent((e) => e.to === 'synced', 'synced after the hand deploy')
    compose(`${stacksDir}/${stack}`, 'up', '-d')
    t.match(await synced, { to: 'synced', health: 'healthy' })

    // The dashboard, open on the list and on the stack's page, marked: a reload would lose the mark.
    const browser = await launchBrowser()
    t.teardown(() => browser.close())
    const list = await browser.newPage()
    await list.goto(`${base}/ui`)
    const page = await browser.newPage()
    await page.goto(`${base}/ui/stacks/${stack}`)
    for (const p of [list, page]) {
      await p.locator('#conn.live').waitFor()
      await p.evaluate(() => Object.assign(globalThis, { neverReloaded: true }))
    }
    const row = list.locator(`tr[data-path="${stack}"]`)
    t.equal(await row.locator('.reason').textContent(), '', 'no reason shown while synced')
    /**
     * Both pages come to show the stack's last reason as the feed told it
     * (a later check may reword it: "exited (137) 1 second ago").
     */
    const dashboardShows = async (what: string) => {
      const last = () => events.at(-1)?.reason
      await waitFor(
        async () => (await row.locator('.reason').textContent()) === last(),
        `the list row to show ${what}`,
      )
      await waitFor(
        async () => (await page.locator('#reason').textContent()) === last(),
        `the stack page to show ${what}`,
      )
      t.equal(await row.locator('.status').textContent(), 'out_of_sync')
      t.equal(await page.locator('#status').textContent(), 'out_of_sync')
      t.equal(await page.locator('#health').textContent(), 'degraded')
    }

    // One container stopped: out_of_sync, degraded, the reason names it.
    const app1 = `${stack}-app-1`
    const side1 = `${stack}-side-1`
    const stopped = nextEvent((e) => e.to === 'out_of_sync', 'out_of_sync after one stop')
    docker('stop', '-t', '0', app1)
    const one = await stopped
    t.equal(one.health, 'degraded')
    t.match(one.reason, new RegExp(`^service app would be started: container ${app1} is exited`))
    t.notMatch(one.reason, side1)
    await app.host?.idle()
    await dashboardShows('the first reason')

    // The second one stopped: the same status and health, a reason naming both.
    const both = nextEvent(
      (e) => (e.reason ?? '').includes(side1),
      'a stack-status event naming the second container',
    )
    docker('stop', '-t', '0', side1)
    const two = await both
    t.match(two, { from: 'out_of_sync', to: 'out_of_sync', health: 'degraded' })
    t.match(
      two.reason,
      new RegExp(
        `^service app would be started: container ${app1} is exited.*; service side would be started: container ${side1} is exited`,
      ),
      'the reason names both containers',
    )
    await app.host?.idle()
    const now = await detail()
    t.match(now, { status: 'out_of_sync', health: 'degraded' })
    t.equal(now.sync.reason, events.at(-1)?.reason, "the detail's reason is the last event's")
    await dashboardShows('the reason naming both')
    for (const p of [list, page])
      t.equal(
        await p.evaluate(() => (globalThis as { neverReloaded?: boolean }).neverReloaded),
        true,
        'patched in place, never reloaded',
      )
  },
)
