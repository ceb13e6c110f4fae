import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EventSource } from 'eventsource'
import t from 'tap'
import { createDeployRecords } from '../../services/sync/index.js'
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
import { tempDir } from '../helpers/temp-dir.js'

// SYNC_MODE=apply on the real engine with Compose v2: deploys of what Git
// changed, one stack at a time; only the changed service recreated; a
// failing health check rolled back and not retried; a rejected file failing
// its stack only; a foreign project left alone until handed over; drift
// without self-heal; removal without prune; manual sync behind the token;
// then a restart on the same cache: no `up` at all, prune and self-heal on.

const unavailable = hostUnavailable()
const API_TOKEN = 'api-token-apply-5f1c2d9e'
const WEBHOOK_SECRET = 'hook-secret-apply-77ab'
const GIT_TOKEN = 'tok-apply-3b'

type SyncEvent = {
  stack: string
  phase: string
  trigger: string
  message: string
  treeHash: string
}

const idOf = (container: string) => docker('inspect', '-f', '{{.Id}}', container)
const envOf = (container: string) => docker('inspect', '-f', '{{json .Config.Env}}', container)

t.test('SYNC_MODE=apply, for real', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: GIT_TOKEN })
  t.teardown(() => server.close())
  const pid = process.pid
  const a = `a-${pid}`
  const b = `b-${pid}`
  const c = `c-${pid}`
  for (const project of [a, b, c]) t.teardown(() => removeProject(project))
  const service = (name: string, extra = '') =>
    `  ${name}:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n${extra}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(
      `${a}/compose.yaml`,
      `services:\n${service('app', '    env_file: app.env\n')}${service('side')}`,
    )
    .writeFile(`${a}/app.env`, 'GREETING=hello\n')
    .writeFile(`${b}/compose.yaml`, `services:\n${service('app')}`)
    .writeFile('README.md', 'stacks\n')
  repo.commitAndPush('two stacks')

  // Compose runs through a wrapper that records its argv and environment.
  const recordDir = tempDir('docker-cd-compose-record-')
  const recordFile = join(recordDir, 'calls.log')
  const wrapper = join(recordDir, 'docker-compose')
  writeFileSync(
    wrapper,
    `#!/bin/sh\n{ echo "--- argv"; printf '%s\\n' "$@"; echo "--- env"; env; } >> '${recordFile}'\nexec /usr/libexec/docker/cli-plugins/docker-compose "$@"\n`,
  )
  chmodSync(wrapper, 0o755)
  const calls = () => (existsSync(recordFile) ? readFileSync(recordFile, 'utf8') : '')
  const ups = () =>
    calls()
      .split('--- argv\n')
      .filter((call) => call.startsWith('up\n')).length

  const stacksDir = tempDir('docker-cd-stacks-')
  const env = {
    SYNC_MODE: 'apply',
    // One at a time, by name, as this test asserts (in parallel: parallel.test.ts).
    SYNC_CONCURRENCY: '1',
    STACKS_DIR: stacksDir,
    SYNC_TIMEOUT: '20s',
    API_TOKEN,
    WEBHOOK_SECRET,
  }
  const config = configFor(server, repo.url, env)
  const app = await build(t, config, { maxEventLoopDelayMs: 60_000, composeCommand: wrapper })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const syncEvents: SyncEvent[] = []
  const feed = new EventSource(`${base}/api/events`, {
    fetch: (input, init) =>
      fetch(input, {
        ...init,
        headers: { ...init?.headers, authorization: `Bearer ${API_TOKEN}` },
      }),
  })
  t.teardown(() => feed.close())
  feed.addEventListener('sync', (event) => syncEvents.push(JSON.parse(event.data)))
  await new Promise((resolve) => feed.addEventListener('open', resolve))
  const auth = { authorization: `Bearer ${API_TOKEN}` }
  const detail = async (name: string) =>
    (await app.inject({ url: `/api/stacks/${name}`, headers: auth })).json()
  const settled = async () => {
    await app.host?.idle()
    await app.sync?.idle()
    await app.host?.idle()
  }
  const statusOf = async (name: string) => (await detail(name)).status

  await startApp(app)
  await waitFor(
    async () => (await statusOf(a)) === 'synced' && (await statusOf(b)) === 'synced',
    'both deployed',
    60_000,
  )
  await settled()
  const first = await detail(a)
  t.match(first, {
    status: 'synced',
    health: 'healthy',
    sync: { deployedTreeHash: first.treeHash, lastResult: 'completed' },
    history: [{ trigger: 'git', result: 'completed', servicesChanged: ['app', 'side'] }],
  })
  t.equal(ups(), 2, 'one up per new stack')
  // The feed's events reach this client over HTTP, after the server is idle.
  await waitFor(
    () => [a, b].every((s) => syncEvents.some((e) => e.stack === s && e.phase === 'completed')),
    'both runs completed on the feed',
  )
  const validates = syncEvents.filter((e) => e.phase === 'validate').map((e) => e.stack)
  t.same(validates, [a, b], 'stacks are deployed one at a time, by name')
  t.same(
    [...new Set(syncEvents.filter((e) => e.stack === a).map((e) => e.phase))],
    ['queued', 'validate', 'pull', 'up', 'wait', 'completed'],
    'the phases of a run, as events',
  )
  t.match(readFileSync(join(stacksDir, a, 'app.env'), 'utf8'), 'GREETING=hello')
  const metric = async (line: RegExp) => {
    const text = (await app.inject('/metrics')).body
    return Number(line.exec(text)?.[1] ?? 0)
  }
  t.equal(await metric(/^docker_cd_sync_runs_total\{trigger="git",result="completed"\} (\d+)/m), 2)

  // An .env change recreates only the service that reads it.
  const appId = idOf(`${a}-app-1`)
  const sideId = idOf(`${a}-side-1`)
  const bId = idOf(`${b}-app-1`)
  let upsBefore = ups()
  repo.writeFile(`${a}/app.env`, 'GREETING=bonjour\n')
  repo.commitAndPush('a new greeting')
  await app.desiredState.refresh('manual').done
  await waitFor(
    async () => (await detail(a)).sync?.deployedTreeHash === (await detail(a)).treeHash,
    'the .env change deployed',
    60_000,
  )
  await settled()
  t.equal(ups() - upsBefore, 1, 'exactly one up: the changed stack')
  t.not(idOf(`${a}-app-1`), appId, 'the service reading the .env was recreated')
  t.equal(idOf(`${a}-side-1`), sideId, 'the other service was not')
  t.equal(idOf(`${b}-app-1`), bId, 'the other stack was not touched')
  t.match(envOf(`${a}-app-1`), 'GREETING=bonjour')
  const afterEnv = await detail(a)
  t.match(afterEnv, {
    status: 'synced',
    history: [
      { trigger: 'git', result: 'completed', servicesChanged: ['app'], fromTree: first.treeHash },
    ],
  })
  const goodTree = afterEnv.treeHash
  const goodRevision = afterEnv.revision

  // A commit whose service fails its health check: rolled back, failed, not retried.
  const appIdGood = idOf(`${a}-app-1`)
  repo.writeFile(
    `${a}/compose.yaml`,
    `services:\n${service('app', '    env_file: app.env\n    healthcheck:\n      test: ["CMD", "false"]\n      interval: 1s\n      retries: 1\n')}${service('side')}`,
  )
  repo.writeFile(`${a}/app.env`, 'GREETING=broken\n')
  repo.commitAndPush('an unhealthy app')
  upsBefore = ups()
  await app.desiredState.refresh('manual').done
  await waitFor(async () => (await statusOf(a)) === 'failed', 'the failed deploy', 60_000)
  await settled()
  const failed = await detail(a)
  t.match(failed, {
    status: 'failed',
    sync: {
      lastResult: 'failed',
      deployedTreeHash: goodTree,
      rolledBackTo: { treeHash: goodTree, revision: goodRevision },
      error: /unhealthy/,
    },
    history: [{ result: 'failed', rolledBackTo: { treeHash: goodTree } }],
  })
  t.match(
    failed.sync.reason,
    /^deploy of tree [0-9a-f]{7} failed: .*unhealthy.*; rolled back to revision [0-9a-f]{7}/,
  )
  t.equal(ups() - upsBefore, 2, 'the failed up and the rollback')
  t.match(envOf(`${a}-app-1`), 'GREETING=bonjour', 'the old configuration runs again')
  t.not(idOf(`${a}-app-1`), appIdGood, '(in a container of its own)')
  t.equal(docker('inspect', '-f', '{{.State.Running}}', `${a}-app-1`), 'true')
  t.match(
    readFileSync(join(stacksDir, a, 'app.env'), 'utf8'),
    'GREETING=bonjour',
    'the work tree holds the good tree',
  )
  await waitFor(
    () =>
      syncEvents.some(
        (e) => e.stack === a && e.treeHash === failed.treeHash && e.phase === 'failed',
      ),
    'the failure on the feed',
  )
  const phases = syncEvents
    .filter((e) => e.stack === a && e.treeHash === failed.treeHash)
    .map((e) => e.phase)
  t.ok(phases.includes('rollback') && phases.at(-1) === 'failed', 'rollback and failure as events')
  t.equal(await metric(/^docker_cd_sync_rollbacks_total (\d+)/m), 1)
  // Not retried: a commit elsewhere, a refresh, a container event change nothing.
  upsBefore = ups()
  repo.writeFile('README.md', 'stacks, again\n')
  repo.commitAndPush('outside any stack')
  await app.desiredState.refresh('manual').done
  docker('restart', '-t', '0', `${a}-side-1`)
  await settled()
  t.equal(ups(), upsBefore, 'a failed tree is not retried')
  t.equal(await statusOf(a), 'failed')

  // A Compose file Compose rejects fails that stack only, and touches nothing.
  repo.writeFile(`${b}/compose.yaml`, 'services:\n  app:\n    image: [not, a, string\n')
  repo.commitAndPush('a broken file')
  upsBefore = ups()
  await app.desiredState.refresh('manual').done
  await waitFor(async () => (await statusOf(b)) === 'failed', 'the rejected file', 60_000)
  await settled()
  t.match((await detail(b)).sync.reason, /^deploy of tree [0-9a-f]{7} failed: /)
  t.match((await detail(b)).sync.error, /yaml|mapping|string|unmarshal/i)
  t.equal(ups(), upsBefore, 'no up for a rejected file')
  t.equal(idOf(`${b}-app-1`), bId, 'its container is untouched')

  // The fix: a new commit deploys again.
  repo.writeFile(
    `${a}/compose.yaml`,
    `services:\n${service('app', '    env_file: app.env\n')}${service('side')}`,
  )
  repo.writeFile(`${a}/app.env`, 'GREETING=fixed\n')
  repo.commitAndPush('healthy again')
  await app.desiredState.refresh('manual').done
  await waitFor(async () => (await statusOf(a)) === 'synced', 'the fix deployed', 60_000)
  t.match(envOf(`${a}-app-1`), 'GREETING=fixed')

  // A foreign project with a stack's name: left alone until handed over.
  const foreignDir = tempDir('docker-cd-foreign-')
  writeFileSync(join(foreignDir, 'compose.yaml'), `name: ${c}\nservices:\n${service('app')}`)
  compose(foreignDir, 'up', '-d')
  const foreignId = idOf(`${c}-app-1`)
  repo.writeFile(
    `${c}/compose.yaml`,
    `services:\n${service('app', '    environment:\n      MANAGED: "yes"\n')}`,
  )
  repo.commitAndPush('stack c')
  upsBefore = ups()
  await app.desiredState.refresh('manual').done
  await waitFor(async () => (await detail(c)).sync, 'c checked', 60_000)
  await settled()
  const foreign = await detail(c)
  t.equal(foreign.status, 'out_of_sync')
  t.match(foreign.sync.reason, `not managed by docker-cd: deployed by hand from ${foreignDir}`)
  t.equal(ups(), upsBefore, 'a foreign project is not deployed over')
  t.equal(idOf(`${c}-app-1`), foreignId)

  // Manual sync hands it over: 401 without the token, then 202 / completed.
  t.equal((await app.inject({ method: 'POST', url: `/api/stacks/${c}/sync` })).statusCode, 401)
  const missing = await app.inject({ method: 'POST', url: '/api/stacks/nope/sync', headers: auth })
  t.equal(missing.statusCode, 404)
  const bad = await app.inject({
    method: 'POST',
    url: `/api/stacks/${c}/sync?wait=maybe`,
    headers: auth,
  })
  t.equal(bad.statusCode, 400)
  const manual = await app.inject({
    method: 'POST',
    url: `/api/stacks/${c}/sync?wait=true`,
    headers: auth,
  })
  t.equal(manual.statusCode, 200)
  t.match(manual.json(), {
    status: 'completed',
    treeHash: foreign.treeHash,
    revision: foreign.revision,
  })
  t.not(idOf(`${c}-app-1`), foreignId, 'recreated from Git')
  t.match(envOf(`${c}-app-1`), 'MANAGED=yes')
  await settled()
  t.match(await detail(c), {
    status: 'synced',
    history: [{ trigger: 'manual', result: 'completed' }],
  })
  const accepted = await app.inject({ method: 'POST', url: `/api/stacks/${c}/sync`, headers: auth })
  t.equal(accepted.statusCode, 202)
  t.match(accepted.json(), { status: 'syncing', message: `sync of ${c} started` })
  await settled()

  // Drift without self-heal: reported, not re-applied.
  upsBefore = ups()
  docker('stop', '-t', '0', `${a}-side-1`)
  await waitFor(async () => (await statusOf(a)) === 'out_of_sync', 'drift seen')
  await settled()
  t.match((await detail(a)).sync.reason, /SYNC_SELF_HEAL is off/)
  t.equal(ups(), upsBefore, 'drift is not re-applied without self-heal')
  t.equal(docker('inspect', '-f', '{{.State.Running}}', `${a}-side-1`), 'false')

  // Removed from Git without prune: still running, listed with the reason.
  repo.removeStack(c)
  repo.commitAndPush('c removed')
  await app.desiredState.refresh('manual').done
  await settled()
  const host = (await app.inject({ url: '/api/host', headers: auth })).json()
  t.match(host.removedStacks, [
    { stack: c, project: c, status: 'kept', reason: /SYNC_PRUNE is off/ },
  ])
  t.match(
    host.projects.find((p: { name: string }) => p.name === c),
    { removedStack: c, running: 1 },
  )
  // API_TOKEN is set: the public page names it under its heading, without the reason.
  const page = (await app.inject('/')).body
  t.match(page, new RegExp(`no longer in Git:\\n\\s+${c}\\s+kept\\n`))

  // Secrets: in no Compose argv or environment, no log line, no container.
  const recorded = calls()
  for (const secret of [API_TOKEN, WEBHOOK_SECRET, GIT_TOKEN]) {
    t.notOk(recorded.includes(secret), 'no secret reaches Compose')
    t.notOk(JSON.stringify(app.logs).includes(secret), 'no secret in the log')
    t.notOk(envOf(`${a}-app-1`).includes(secret), 'no secret in a container')
  }
  t.match(recorded, /--- env\n(.*\n)*DOCKER_HOST=unix:/, 'the environment was recorded')
  t.notMatch(
    recorded,
    /^(GIT_|API_TOKEN|WEBHOOK_SECRET)/m,
    'no variable of the service reaches Compose',
  )
  await app.close()

  // A restart on the same cache dir and STACKS_DIR with prune and self-heal on.
  docker('start', `${a}-side-1`)
  repo.writeFile(`${b}/compose.yaml`, `services:\n${service('app')}`)
  repo.commitAndPush('b as deployed')
  upsBefore = ups()
  const downsBefore = calls()
    .split('--- argv\n')
    .filter((call) => /\ndown\n/.test(call)).length
  const again = await build(
    t,
    { ...config, syncPrune: true, syncSelfHeal: true },
    {
      maxEventLoopDelayMs: 60_000,
      composeCommand: wrapper,
      sync: { healBackoff: { initialMs: 60 * 60_000, maxMs: 60 * 60_000 } },
    },
  )
  await startApp(again)
  const againDetail = async (name: string) =>
    (await again.inject({ url: `/api/stacks/${name}`, headers: auth })).json()
  await waitFor(
    async () =>
      (await againDetail(a)).status === 'synced' && (await againDetail(b)).status === 'synced',
    'in sync after the restart',
    60_000,
  )
  await again.host?.idle()
  await again.sync?.idle()
  await waitFor(
    () => !docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${c}`),
    'c taken down (prune)',
    60_000,
  )
  t.equal(ups(), upsBefore, 'a restart with everything in sync runs no up')
  t.equal(
    calls()
      .split('--- argv\n')
      .filter((call) => /\ndown\n/.test(call)).length - downsBefore,
    1,
    'one down: the stack removed from Git',
  )
  t.same((await again.inject({ url: '/api/host', headers: auth })).json().removedStacks, [])
  t.match(
    (await againDetail(a)).history[0],
    { trigger: 'git', result: 'completed' },
    'history kept across restarts',
  )

  // Self-heal: a stopped container is re-applied, once; the next time it backs off.
  docker('stop', '-t', '0', `${a}-side-1`)
  await waitFor(
    () => docker('inspect', '-f', '{{.State.Running}}', `${a}-side-1`) === 'true',
    'healed',
    60_000,
  )
  await again.host?.idle()
  await again.sync?.idle()
  t.match((await againDetail(a)).history[0], { trigger: 'self-heal', result: 'completed' })
  docker('stop', '-t', '0', `${a}-side-1`)
  await waitFor(
    async () => /self-heal backs off until/.test((await againDetail(a)).sync.reason),
    'the back-off said',
    60_000,
  )
  t.equal(
    docker('inspect', '-f', '{{.State.Running}}', `${a}-side-1`),
    'false',
    'not re-applied again',
  )
  t.same(
    readdirSync(join(stacksDir, a)).filter((name) => name.includes('docker-cd-')),
    [],
    'no half-written files',
  )
  await again.close()

  // SYNC_ADOPT: a project deployed by hand under a stack's name is taken over.
  const d = `d-${pid}`
  t.teardown(() => removeProject(d))
  const handDir = tempDir('docker-cd-foreign-')
  writeFileSync(join(handDir, 'compose.yaml'), `name: ${d}\nservices:\n${service('app')}`)
  compose(handDir, 'up', '-d')
  const handId = idOf(`${d}-app-1`)
  repo.writeFile(
    `${d}/compose.yaml`,
    `services:\n${service('app', '    environment:\n      ADOPTED: "yes"\n')}`,
  )
  repo.commitAndPush('stack d')
  const adopting = await build(
    t,
    { ...config, syncAdopt: true },
    { maxEventLoopDelayMs: 60_000, composeCommand: wrapper },
  )
  await startApp(adopting)
  const dDetail = async () =>
    (await adopting.inject({ url: `/api/stacks/${d}`, headers: auth })).json()
  await waitFor(async () => (await dDetail()).status === 'synced', 'd adopted', 60_000)
  t.match((await dDetail()).history, [{ trigger: 'adopt', result: 'completed' }])
  t.not(idOf(`${d}-app-1`), handId, 'recreated from Git')
  t.match(envOf(`${d}-app-1`), 'ADOPTED=yes')
})

t.test('manual sync is refused without API_TOKEN', async (t) => {
  const server = await startGitServer({ token: 'tok-sync-403' })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server)
  repo.writeStack('web').commitAndPush('one stack')
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const name = app.desiredState.current().stacks[0]?.path
  const response = await app.inject({ method: 'POST', url: `/api/stacks/${name}/sync` })
  t.equal(response.statusCode, 403)
  t.match(response.json(), { statusCode: 403, message: /needs API_TOKEN/ })
})

t.test('shutdown during a deploy lets it finish', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-apply-shutdown' })
  t.teardown(() => server.close())
  const slow = `slow-${process.pid}`
  t.teardown(() => removeProject(slow))
  const repo = createFixtureRepo(server, { stacks: 0 })
  // Healthy two seconds after it starts: the deploy is in its health wait when asked to stop.
  repo.writeFile(
    `${slow}/compose.yaml`,
    `services:\n  app:\n    image: ${image}\n    command: ["sh", "-c", "sleep 2; touch /ok; sleep 3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    healthcheck:\n      test: ["CMD", "test", "-f", "/ok"]\n      interval: 1s\n      retries: 10\n`,
  )
  repo.commitAndPush('a slow stack')
  const stacksDir = tempDir('docker-cd-stacks-')
  const config = configFor(server, repo.url, { SYNC_MODE: 'apply', STACKS_DIR: stacksDir })
  const app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
  const phases: string[] = []
  app.eventFeed.subscribe({
    deliver: (event) => {
      if (event.event === 'sync') phases.push((event.data as { phase: string }).phase)
      return true
    },
    drop: () => {},
  })
  await startApp(app)
  await waitFor(() => phases.includes('wait'), 'the deploy in its health wait', 60_000)
  await app.close()
  t.ok(phases.includes('wait'), 'closed while Compose waited for the health check')
  const records = createDeployRecords(
    join(
      config.gitCacheDir,
      readdirSync(config.gitCacheDir).find((n) => n.endsWith('.deployments')) as string,
    ),
  )
  await records.load()
  t.match(records.get(slow), { lastResult: 'completed', history: [{ result: 'completed' }] })
  t.equal(docker('inspect', '-f', '{{.State.Health.Status}}', `${slow}-app-1`), 'healthy')
  t.same(
    readdirSync(join(stacksDir, slow)).filter((name) => name.includes('docker-cd-')),
    [],
    'no half-written work tree',
  )
})
