import type { Page } from 'playwright-core'
import t from 'tap'
import { browserUnavailable, launchBrowser } from '../helpers/browser.js'
import { deployedApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { followStackStatus } from '../helpers/status-feed.js'
import { HOST_NETWORK, startSwarm, swarmUnavailable } from '../helpers/swarm.js'

// A Swarm stack's status on a real two-node swarm (test/helpers/swarm.ts):
// the stack detail carries each service's replicas and its tasks per node,
// GET /api/host and the status page list both nodes; the worker's engine
// stopped leaves two replicas without a node (`max_replicas_per_node: 2`:
// Swarm cannot put them on the manager), which is `degraded` with the
// service, the missing replicas and the scheduler's words — seen live on
// /api/events and on the dashboard's stack page (Chromium, when installed)
// — and the engine started again is `healthy` again.

const unavailable = hostUnavailable() ?? swarmUnavailable()
// Two private engines forming a swarm, one stopped and started again: more than the usual 120 s.
t.setTimeout(360_000)

type Task = {
  slot?: number
  node: string
  nodeId?: string
  nodeState?: string
  state: string
  error?: string
}
type SwarmServiceView = {
  name: string
  mode: string
  replicas: { running: number; desired: number }
  updateState?: string
  tasks: Task[]
}
type Detail = {
  status: string
  health?: string
  reason?: string
  swarmServices?: SwarmServiceView[]
}

t.test('status, nodes and a node going down', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const swarm = await startSwarm()
  t.teardown(() => swarm.close())
  const server = await startGitServer({ token: 'tok-swarm-status-30' })
  t.teardown(() => server.close())
  const stack = `st-status-${process.pid}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile(
    `${stack}/compose.yaml`,
    `services:\n  web:\n    image: ${image}\n    command: ["sleep", "3600"]\n    stop_grace_period: 1s\n    networks: [hostnet]\n    deploy:\n      replicas: 4\n      placement:\n        max_replicas_per_node: 2\n${HOST_NETWORK}`,
  )
  repo.commitAndPush('four replicas, at most two per node')
  const { app, detail } = await deployedApp(t, server, repo.url, stack, {
    SYNC_TARGET: 'swarm',
    SYNC_TIMEOUT: '60s',
    SWARM_RESOLVE_IMAGE: 'never',
    DOCKER_HOST: `unix://${swarm.manager.socket}`,
    DOCKER_SOCKET: swarm.manager.socket,
  })
  const healthy = (await waitFor(async () => {
    const d = (await detail()) as Detail
    return d.health === 'healthy' ? d : undefined
  }, 'the stack healthy')) as Detail

  t.test('the detail: each service, its replicas and its tasks per node', async (t) => {
    t.equal(healthy.status, 'synced')
    const web = healthy.swarmServices?.[0]
    t.match(healthy.swarmServices, [
      { name: 'web', mode: 'replicated', replicas: { running: 4, desired: 4 } },
    ])
    t.same(
      web?.tasks.map((task) => task.slot),
      [1, 2, 3, 4],
      'one task per slot',
    )
    const perNode = new Map<string, number>()
    for (const task of web?.tasks ?? [])
      perNode.set(task.nodeId ?? '', (perNode.get(task.nodeId ?? '') ?? 0) + 1)
    t.same(
      [...perNode.keys()].sort(),
      [swarm.nodes.manager, swarm.nodes.worker].sort(),
      'tasks on both nodes',
    )
    t.same([...perNode.values()], [2, 2], 'two per node')
    t.ok(
      web?.tasks.every((task) => /127\.0\.0\.\d/.test(task.node)),
      'each task names its node with the address',
    )
    t.ok(
      web?.tasks.every((task) => task.state === 'running' && !task.error),
      'all running',
    )
  })

  t.test('GET /api/host and the status page list the nodes', async (t) => {
    const host = (await app.inject({ url: '/api/host' })).json()
    t.equal(host.target, 'swarm')
    t.match(
      [...host.nodes].sort((a: { role: string }, b: { role: string }) =>
        a.role < b.role ? -1 : 1,
      ),
      [
        {
          role: 'manager',
          availability: 'active',
          state: 'ready',
          address: /^127\./,
          leader: true,
        },
        // The manager sees the worker's connection come from loopback's first address.
        { role: 'worker', availability: 'active', state: 'ready', address: /^127\./ },
      ],
    )
    t.same(
      host.nodes.map((node: { id: string }) => node.id).sort(),
      [swarm.nodes.manager, swarm.nodes.worker].sort(),
    )
    const page = (await app.inject({ url: '/' })).body
    t.match(page, /swarm nodes: +2 /)
    t.match(page, /manager \(leader\) +active +ready +127\.0\.0\.1/)
    t.match(page, /worker +active +ready +127\.0\.0\.\d/)
  })

  t.test('the worker down: degraded, named; back: healthy', async (t) => {
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const feed = await followStackStatus(t, base, stack)
    // The dashboard, open before the node goes: its services and tasks follow the stack's events.
    let page: Page | undefined
    if (!browserUnavailable()) {
      const browser = await launchBrowser()
      t.teardown(() => browser.close())
      page = await browser.newPage()
      await page.goto(`${base}/ui`)
      t.equal(
        await page.locator('#target').textContent(),
        'target: swarm',
        'the list says the target',
      )
      await page.goto(`${base}/ui/stacks/${stack}`)
      await page.locator('#conn.live').waitFor()
      t.equal(await page.locator('#swarm-services .replicas').textContent(), '4/4')
      const rows = await page.locator('#swarm-services tr.swarm-task').allTextContents()
      t.equal(rows.length, 4, 'a row per task')
      t.ok(
        rows.every((row) => /slot \d.*127\.0\.0\.\d.*running/.test(row)),
        'each with its slot, node and state',
      )
    } else t.comment(`no browser test: ${browserUnavailable()}`)
    const stoppedAt = Date.now()
    const degraded = feed.next(
      (event) => event.health === 'degraded' && /no suitable node/.test(event.reason ?? ''),
      'degraded, with the scheduler’s words, on the event feed',
      120_000,
    )
    await swarm.worker.stop()
    const event = await degraded
    t.comment(`worker stopped → degraded with the scheduler's words: ${Date.now() - stoppedAt} ms`)
    t.match(
      event.reason,
      /service web: 2\/4 replicas running \(2 pending: no suitable node \(.*max replicas per node limit exceed/,
    )
    const d = (await detail()) as Detail
    t.equal(d.health, 'degraded')
    t.equal(d.status, 'synced', 'the specs are what Git says: not drift')
    const web = d.swarmServices?.[0]
    t.match(web?.replicas, { running: 2, desired: 4 })
    const pending = web?.tasks.filter((task) => task.state === 'pending') ?? []
    t.equal(pending.length, 2, 'two tasks wait for a node')
    t.ok(
      pending.every((task) => task.node === '' && /no suitable node/.test(task.error ?? '')),
      'not placed, with the reason',
    )
    if (page) {
      await page.locator('#swarm-services .replicas .degraded', { hasText: '2/4' }).waitFor()
      const placed = page.locator('#swarm-services tr.swarm-task', { hasText: 'not placed' })
      await placed.first().waitFor()
      t.equal(await placed.count(), 2, 'the page shows the two tasks without a node')
      t.match(await placed.first().textContent(), /pending.*no suitable node/)
      t.equal(await page.locator('#health').textContent(), 'degraded')
    }

    const startedAt = Date.now()
    const recovered = feed.next(
      (event) => event.health === 'healthy',
      'healthy again on the event feed',
      120_000,
    )
    await swarm.worker.start()
    await recovered
    t.comment(`worker started → healthy: ${Date.now() - startedAt} ms`)
    const back = (await detail()) as Detail
    t.match(back, { status: 'synced', health: 'healthy' })
    t.match(back.swarmServices?.[0]?.replicas, { running: 4, desired: 4 })
    if (page) {
      await page.locator('#swarm-services .replicas .healthy', { hasText: '4/4' }).waitFor()
      t.equal(
        await page.locator('#swarm-services tr.swarm-task', { hasText: 'not placed' }).count(),
        0,
      )
    }
  })
})
