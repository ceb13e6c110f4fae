import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { EventSource } from 'eventsource'
import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Deploys in parallel, in a declared order, on the real engine with
// Compose v2: at most SYNC_CONCURRENCY `up` at once (counted by a wrapper
// around Compose); a stack that declares `x-docker-cd.depends_on` starts its
// `up` only once its dependency is healthy (the engine's own event times),
// is held with the reason while that one failed, and a cycle or an unknown
// name is an error on the stacks involved — never a hang.

const unavailable = hostUnavailable()
const GIT_TOKEN = 'tok-parallel-6d'
const pid = process.pid

/** A Compose wrapper that writes `start|end <pid> <ns>` around each `up`. */
function upRecorder() {
  const dir = tempDir('docker-cd-compose-ups-')
  const log = join(dir, 'ups.log')
  const wrapper = join(dir, 'docker-compose')
  writeFileSync(
    wrapper,
    `#!/bin/sh
if [ "$1" = up ]; then
  echo "start $$ $(date +%s%N)" >> '${log}'
  /usr/libexec/docker/cli-plugins/docker-compose "$@"; rc=$?
  echo "end $$ $(date +%s%N)" >> '${log}'
  exit $rc
fi
exec /usr/libexec/docker/cli-plugins/docker-compose "$@"
`,
  )
  chmodSync(wrapper, 0o755)
  /** The most `up` runs that were running at one time, and how many ran. */
  const counted = () => {
    const lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []
    const marks = lines
      .map((line) => line.split(' '))
      .map(([kind, , ns]) => ({ kind, at: BigInt(ns as string) }))
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
    let now = 0
    let most = 0
    for (const mark of marks) {
      now += mark.kind === 'start' ? 1 : -1
      most = Math.max(most, now)
    }
    return { most, runs: marks.filter((mark) => mark.kind === 'start').length }
  }
  return { wrapper, counted }
}

/** The engine's events of a project since `since` (unix seconds), as [action, ns]. */
function engineEvents(project: string, since: number): { action: string; at: bigint }[] {
  const out = execFileSync(
    'docker',
    [
      'events',
      '--since',
      String(since),
      '--until',
      String(Math.ceil(Date.now() / 1000) + 1),
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--filter',
      'type=container',
      '--format',
      '{{.Action}}|{{.TimeNano}}',
    ],
    { encoding: 'utf8' },
  )
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [action, ns] = line.split('|')
      return { action: action as string, at: BigInt(ns as string) }
    })
}

const service = (image: string, extra = '') =>
  `services:\n  app:\n    image: ${image}\n    network_mode: none\n    stop_grace_period: 1s\n${extra}`
/** Healthy about a second after it starts: its `up --wait` lasts that long. */
const slowHealthy = (seconds: number) =>
  `    command: ["sh", "-c", "sleep ${seconds}; touch /ok; sleep 3600"]\n    healthcheck:\n      test: ["CMD", "test", "-f", "/ok"]\n      interval: 200ms\n      retries: 100\n`

t.test(
  'SYNC_CONCURRENCY=3: six stacks, at most three `up` at once',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: GIT_TOKEN })
    t.teardown(() => server.close())
    const names = Array.from({ length: 6 }, (_, i) => `par${i}-${pid}`)
    for (const name of names) t.teardown(() => removeProject(name))
    const repo = createFixtureRepo(server, { stacks: 0 })
    for (const name of names) repo.writeFile(`${name}/compose.yaml`, service(image, slowHealthy(1)))
    repo.commitAndPush('six stacks')
    const ups = upRecorder()
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        SYNC_CONCURRENCY: '3',
        STACKS_DIR: tempDir('docker-cd-stacks-'),
      }),
      { composeCommand: ups.wrapper },
    )
    await startApp(app)
    await waitFor(
      () =>
        app.desiredState
          .current()
          .stacks.every((stack) => stack.status === 'synced' && stack.health === 'healthy'),
      'every stack synced and healthy',
      120_000,
    )
    const { most, runs } = ups.counted()
    t.equal(runs, 6, 'one `up` per stack')
    t.ok(most <= 3, `at most 3 at once (counted ${most})`)
    t.ok(most >= 2, `in parallel, not one by one (counted ${most})`)
  },
)

t.test(
  'x-docker-cd.depends_on: after the dependency is healthy; held while it failed; cycles and unknown names',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: GIT_TOKEN })
    t.teardown(() => server.close())
    const [db, web, bad, held, x, y, lost] = ['db', 'web', 'bad', 'held', 'x', 'y', 'lost'].map(
      (name) => `${name}-${pid}`,
    ) as [string, string, string, string, string, string, string]
    for (const name of [db, web, bad, held, x, y, lost]) t.teardown(() => removeProject(name))
    const needs = (...names: string[]) => `x-docker-cd:\n  depends_on: [${names.join(', ')}]\n`
    const sleeper = '    command: ["sleep", "3600"]\n'
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      // The dependency takes two seconds to be healthy; its dependant is a plain sleeper.
      .writeFile(`${db}/compose.yaml`, service(image, slowHealthy(2)))
      .writeFile(`${web}/compose.yaml`, needs(db) + service(image, sleeper))
      // A dependency that fails its deploy (it exits at once), and its dependant.
      .writeFile(`${bad}/compose.yaml`, service(image, '    command: ["sh", "-c", "exit 3"]\n'))
      .writeFile(`${held}/compose.yaml`, needs(bad) + service(image, sleeper))
      .writeFile(`${x}/compose.yaml`, needs(y) + service(image, sleeper))
      .writeFile(`${y}/compose.yaml`, needs(x) + service(image, sleeper))
      .writeFile(`${lost}/compose.yaml`, needs('no-such-stack') + service(image, sleeper))
    repo.commitAndPush('stacks that declare an order')
    const since = Math.floor(Date.now() / 1000) - 1
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        STACKS_DIR: tempDir('docker-cd-stacks-'),
      }),
    )
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const queued: string[] = []
    const events = new EventSource(`${base}/api/events`)
    t.teardown(() => events.close())
    events.addEventListener('sync', (event) => {
      const data = JSON.parse(event.data) as { stack: string; phase: string; message: string }
      if (data.stack === web && data.phase === 'queued') queued.push(data.message)
    })
    await new Promise<void>((resolve) => {
      events.onopen = () => resolve()
    })
    await startApp(app)
    const status = (name: string) =>
      app.desiredState.current().stacks.find((stack) => stack.path === name)
    await waitFor(
      () => status(web)?.status === 'synced' && status(bad)?.status === 'failed',
      'the dependant synced, the failing dependency failed',
      120_000,
    )
    await app.sync?.idle()

    // The dependant's `up` began after the dependency was healthy: the engine's clock says so.
    const healthy = engineEvents(db, since).find((e) => e.action === 'health_status: healthy')
    const created = engineEvents(web, since).find((e) => e.action === 'create')
    t.ok(healthy && created, 'the engine saw both')
    t.ok(
      (created?.at ?? 0n) > (healthy?.at ?? 0n),
      `${web} created ${Number(((created?.at ?? 0n) - (healthy?.at ?? 0n)) / 1_000_000n)} ms after ${db} was healthy`,
    )
    t.match(queued.join('\n'), new RegExp(`waiting for ${db}`), 'queued, saying what it waits for')

    const reason = async (name: string) =>
      (
        (await app.inject({ url: `/api/stacks/${name}` })).json() as {
          sync?: { reason: string }
        }
      ).sync?.reason ?? ''
    const containers = (name: string) =>
      docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${name}`)
    // Held while its dependency failed: not deployed, and why.
    t.equal(containers(held), '', `${held} is not deployed`)
    t.equal(status(held)?.status, 'missing')
    t.match(await reason(held), new RegExp(`held: ${bad} failed to deploy tree`))
    // A cycle: an error on both stacks, neither deployed, nothing hangs (idle was reached).
    for (const name of [x, y]) {
      t.equal(containers(name), '', `${name} is not deployed`)
      t.match(await reason(name), /depends_on forms a cycle/)
      t.match(await reason(name), new RegExp(`${x} → ${y} → ${x}|${y} → ${x} → ${y}`))
    }
    t.equal(containers(lost), '', `${lost} is not deployed`)
    t.match(await reason(lost), /"no-such-stack", which is no stack in Git/)
  },
)
