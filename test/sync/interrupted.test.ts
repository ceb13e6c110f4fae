import { EventSource } from 'eventsource'
import t, { type Test } from 'tap'
import { waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { serviceEnv, startService } from '../helpers/service.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 24, item 3, on the built server and the real engine: docker-cd's
// whole process group is SIGKILLed (an OOM kill, `docker kill`, a power
// cut) while a deploy waits for a health check that never passes. After a
// restart on the same cache and stacks dirs the interrupted deploy must be
// found, taken through the health gate, and rolled back to the last good
// tree — never accepted because Compose's plan says "Running".

const unavailable = hostUnavailable()
const API_TOKEN = 'api-token-interrupted-9c1e'
const auth = { authorization: `Bearer ${API_TOKEN}` }

type SyncEvent = { stack: string; phase: string; treeHash: string }
type Run = { trigger: string; toTree: string; result: string }
type Detail = {
  status: string
  treeHash: string
  sync?: { deployedTreeHash?: string }
  history?: Run[]
}

/**
 * Deploys a good version, pushes `next` (a service definition's extra
 * lines), kills docker-cd while that deploy is in its health wait, and
 * restarts it on the same dirs; answers once the restarted service has
 * decided about the interrupted tree: accepted it (recorded as deployed)
 * or finished its run of it.
 */
async function killDuringWait(
  t: Test,
  options: { name: string; next: string; command?: string; kill: 'group' | 'docker-cd' },
) {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-interrupted' })
  t.teardown(() => server.close())
  const stack = `${options.name}-${process.pid}`
  t.teardown(() => removeProject(stack))
  const service = (version: string, command: string, extra = '') =>
    `services:\n  app:\n    image: ${image}\n    command: ${command}\n    network_mode: none\n    stop_grace_period: 1s\n    environment:\n      VERSION: ${version}\n${extra}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile(`${stack}/compose.yaml`, service('good', '["sleep", "3600"]'))
  repo.commitAndPush('a good stack')

  const env = await serviceEnv(server, repo.url, {
    SYNC_MODE: 'apply',
    STACKS_DIR: tempDir('docker-cd-stacks-'),
    SYNC_TIMEOUT: '20s',
    API_TOKEN,
    LOG_LEVEL: 'info',
  })
  const base = `http://127.0.0.1:${env.PORT}`
  const detail = async () => {
    const response = await fetch(`${base}/api/stacks/${stack}`, { headers: auth }).catch(
      () => undefined,
    )
    return response?.ok ? ((await response.json()) as Detail) : undefined
  }

  const first = startService(t, env, { detached: true })
  const good = await waitFor(
    async () => {
      const d = await detail()
      return d?.status === 'synced' && d.sync?.deployedTreeHash === d.treeHash ? d : undefined
    },
    'the good tree deployed',
    90_000,
  )
  const goodTree: string = good.treeHash

  repo.writeFile(
    `${stack}/compose.yaml`,
    service('next', options.command ?? '["sleep", "3600"]', options.next),
  )
  repo.commitAndPush('the next version')
  const events: SyncEvent[] = []
  const feed = new EventSource(`${base}/api/events`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...auth } }),
  })
  t.teardown(() => feed.close())
  feed.addEventListener('sync', (event) => events.push(JSON.parse(event.data)))
  await new Promise((resolve) => feed.addEventListener('open', resolve))
  await fetch(`${base}/api/refresh`, { method: 'POST', headers: auth })
  const waiting = await waitFor(
    () => events.find((e) => e.stack === stack && e.phase === 'wait' && e.treeHash !== goodTree),
    'the deploy of the next tree in its health wait',
    90_000,
  )
  const nextTree = waiting.treeHash
  feed.close()
  const pid = first.child.pid as number
  // The whole process group (docker-cd and what shares its group), or docker-cd alone.
  process.kill(options.kill === 'group' ? -pid : pid, 'SIGKILL')
  await first.exited
  t.match(
    docker('inspect', '-f', '{{json .Config.Env}}', `${stack}-app-1`),
    'VERSION=next',
    'the next version was running when docker-cd died',
  )

  startService(t, env, { detached: true })
  const after = await waitFor(
    async () => {
      const d = await detail()
      const latest = d?.history?.[0]
      const decided =
        d?.sync?.deployedTreeHash === nextTree ||
        (latest?.toTree === nextTree && latest.result !== 'interrupted')
      return decided && d?.status !== 'syncing' ? d : undefined
    },
    'a decision about the interrupted deploy',
    120_000,
  )
  return { after, stack, goodTree, nextTree }
}

t.test(
  'a kill during the health wait is rolled back after the restart',
  { skip: unavailable ?? false },
  async (t) => {
    // A version whose health check never passes: in its start period for 25 s.
    const { after, stack, goodTree, nextTree } = await killDuringWait(t, {
      name: 'k',
      next: '    healthcheck:\n      test: ["CMD", "false"]\n      interval: 1s\n      retries: 1\n      start_period: 25s\n',
      kill: 'group',
    })
    t.equal(after.sync?.deployedTreeHash, goodTree, 'the good tree is still the deployed one')
    t.match(after, {
      status: 'failed',
      sync: { lastResult: 'failed', rolledBackTo: { treeHash: goodTree } },
    })
    t.match(after.history?.[0], {
      trigger: 'recover',
      toTree: nextTree,
      result: 'failed',
      rolledBackTo: { treeHash: goodTree },
    })
    const interrupted = after.history?.find((run) => run.result === 'interrupted')
    t.match(
      interrupted,
      { toTree: nextTree, fromTree: goodTree, reason: /stopped .*during the deploy/ },
      'the killed run is in the history, with why',
    )
    t.match(
      docker('inspect', '-f', '{{json .Config.Env}}', `${stack}-app-1`),
      'VERSION=good',
      'the good version runs again',
    )
    t.equal(docker('inspect', '-f', '{{.State.Running}}', `${stack}-app-1`), 'true')
  },
)

t.test(
  'only docker-cd dies, Compose finishes and the service gets healthy: accepted through the gate',
  { skip: unavailable ?? false },
  async (t) => {
    // Healthy four seconds after it starts: Compose, left running, sees it healthy.
    const { after, stack, goodTree, nextTree } = await killDuringWait(t, {
      name: 'h',
      command: '["sh", "-c", "sleep 4; touch /ok; sleep 3600"]',
      next: '    healthcheck:\n      test: ["CMD", "test", "-f", "/ok"]\n      interval: 1s\n      retries: 30\n',
      kill: 'docker-cd',
    })
    t.match(after, {
      status: 'synced',
      sync: { deployedTreeHash: nextTree, lastResult: 'completed' },
    })
    t.match(after.history, [
      { trigger: 'recover', toTree: nextTree, result: 'completed', fromTree: goodTree },
      { toTree: nextTree, result: 'interrupted' },
    ])
    t.equal(docker('inspect', '-f', '{{.State.Health.Status}}', `${stack}-app-1`), 'healthy')
  },
)
