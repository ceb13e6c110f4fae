// Sync benchmark (not a test), on the real engine with the tiny test image:
//  1. overhead: a one-service stack changed BENCH_ROUNDS times, applied by a
//     bare `docker compose up -d --remove-orphans --wait` in a directory of
//     its own, and by docker-cd (POST /api/stacks/{name}/sync?wait=true
//     after the refresh that brought the change; SYNC_MODE=detect, so
//     nothing else deploys it): medians side by side;
//  2. BENCH_STACKS (200) stacks deployed, SYNC_MODE=apply: a commit changing
//     one of them, announced by a signed webhook → that stack `synced` on
//     the SSE feed (BENCH_ROUNDS rounds, p50/p95), with the number of `up`
//     runs it took and the refresh's own duration.
//
//   npm run bench:sync
//   BENCH_STACKS=50 BENCH_ROUNDS=5 npm run bench:sync
import { execFile, execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { EventSource } from 'eventsource'
import { ensureTestImage, hostUnavailable, removeProject } from '../test/helpers/docker.js'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { sendPush } from '../test/helpers/github.js'
import { tempDir } from '../test/helpers/temp-dir.js'
import { startBuiltService } from './built-service.js'

const run = promisify(execFile)
const TOKEN = 'bench-token-sync'
const API_TOKEN = 'bench-api-token-sync-0123'
const SECRET = 'bench-webhook-secret'
const count = Number(process.env.BENCH_STACKS ?? 200)
const rounds = Number(process.env.BENCH_ROUNDS ?? 10)
const unavailable = hostUnavailable()
if (unavailable) {
  process.stderr.write(`bench:sync needs the host: ${unavailable}\n`)
  process.exit(1)
}
const image = ensureTestImage()
const stackFile = (round: number) =>
  `services:\n  app:\n    image: ${image}\n    command: ["sleep", "86400"]\n    network_mode: none\n    stop_grace_period: 1s\n    environment:\n      ROUND: "${round}"\n`
const names = Array.from({ length: count }, (_, i) => `bench-sync-${String(i).padStart(3, '0')}`)
const one = 'bench-sync-one'
const bare = 'bench-sync-bare'
let cleaned = false
const cleanup = () => {
  if (cleaned) return
  cleaned = true
  for (const name of [...names, one, bare]) removeProject(name)
}
process.on('exit', cleanup)
const auth = { authorization: `Bearer ${API_TOKEN}` }
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}
const server = await startGitServer({ token: TOKEN })

// 1. docker-cd beside a bare `docker compose up`.
const bareDir = join(tempDir('docker-cd-bench-bare-'), bare)
mkdirSync(bareDir)
const bareTimes: number[] = []
for (let round = 0; round <= rounds; round++) {
  writeFileSync(join(bareDir, 'compose.yaml'), stackFile(round))
  const started = performance.now()
  await run('docker', ['compose', 'up', '-d', '--remove-orphans', '--wait'], { cwd: bareDir })
  if (round > 0) bareTimes.push(performance.now() - started) // round 0 creates; the rest recreate
}
const oneRepo = createFixtureRepo(server, { stacks: 0 })
oneRepo.writeFile(`${one}/compose.yaml`, stackFile(0)).commitAndPush('one stack')
const detect = await startBuiltService({
  server,
  repoUrl: oneRepo.url,
  token: TOKEN,
  env: {
    SYNC_MODE: 'detect',
    API_TOKEN,
    STACKS_DIR: join(tempDir('docker-cd-bench-stacks-'), 's'),
  },
})
const post = (base: string, path: string) =>
  fetch(`${base}${path}`, { method: 'POST', headers: auth }).then((r) => r.json())
const statusIn = async (base: string, name: string) =>
  (
    (await (await fetch(`${base}/api/stacks/${name}`, { headers: auth })).json()) as {
      status: string
    }
  ).status
await post(detect.base, `/api/stacks/${one}/sync?wait=true`) // round 0: creates
const syncTimes: number[] = []
for (let round = 1; round <= rounds; round++) {
  oneRepo.writeFile(`${one}/compose.yaml`, stackFile(round)).commitAndPush(`round ${round}`)
  await post(detect.base, '/api/refresh?wait=true')
  while ((await statusIn(detect.base, one)) !== 'out_of_sync')
    await new Promise((resolve) => setTimeout(resolve, 20))
  const started = performance.now()
  const answer = (await post(detect.base, `/api/stacks/${one}/sync?wait=true`)) as {
    status: string
  }
  if (answer.status !== 'completed') throw new Error(`sync failed: ${JSON.stringify(answer)}`)
  syncTimes.push(performance.now() - started)
}
await detect.stop()

// 2. One change among `count` deployed stacks, announced by a webhook.
const repo = createFixtureRepo(server, { stacks: 0 })
for (const name of names) repo.writeFile(`${name}/compose.yaml`, stackFile(0))
repo.commitAndPush(`${count} stacks`)
// Deployed by hand in the directories docker-cd's work trees will be (the
// same files): docker-cd finds them in sync, records them and runs no `up`.
const stacksDir = join(tempDir('docker-cd-bench-stacks-'), 'stacks')
process.stderr.write(`deploying ${count} stacks by hand…\n`)
let next = 0
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (next < names.length) {
      const name = names[next++] as string
      mkdirSync(join(stacksDir, name), { recursive: true })
      writeFileSync(join(stacksDir, name, 'compose.yaml'), stackFile(0))
      await run('docker', ['compose', 'up', '-d'], { cwd: join(stacksDir, name) })
    }
  }),
)
const apply = await startBuiltService({
  server,
  repoUrl: repo.url,
  token: TOKEN,
  env: { SYNC_MODE: 'apply', API_TOKEN, WEBHOOK_SECRET: SECRET, STACKS_DIR: stacksDir },
})
type Listed = { path: string; status: string }
const allSynced = async () => {
  const stacks = (await (
    await fetch(`${apply.base}/api/stacks`, { headers: auth })
  ).json()) as Listed[]
  return stacks.length === count && stacks.every((stack) => stack.status === 'synced')
}
while (!(await allSynced())) await new Promise((resolve) => setTimeout(resolve, 100))
const upsSoFar = async () =>
  Number(
    /docker_cd_compose_runs_total\{asked="up"\} (\d+)/.exec(
      await (await fetch(`${apply.base}/metrics`)).text(),
    )?.[1] ?? 0,
  )
const upsAtStart = await upsSoFar()
const events = new EventSource(`${apply.base}/api/events`, {
  fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...auth } }),
})
const waiters = new Map<string, (data: Record<string, unknown>) => void>()
events.addEventListener('stack-status', (event) => {
  const data = JSON.parse(event.data) as { path: string; to: string }
  waiters.get(`${data.path} ${data.to}`)?.(data)
})
const refreshTimes: number[] = []
events.addEventListener('refresh', (event) => {
  const data = JSON.parse(event.data) as { startedAt: string; finishedAt: string }
  refreshTimes.push(Date.parse(data.finishedAt) - Date.parse(data.startedAt))
})
await new Promise((resolve) => events.addEventListener('open', resolve))
const latencies: number[] = []
const upsPerRound: number[] = []
for (let round = 1; round <= rounds; round++) {
  const name = names[(round * 37) % count] as string
  const after = repo
    .writeFile(`${name}/compose.yaml`, stackFile(round))
    .commitAndPush(`change ${name}`)
  const before = await upsSoFar()
  const synced = new Promise((resolve) => waiters.set(`${name} synced`, resolve))
  const started = performance.now()
  await sendPush(apply.base, after, SECRET)
  await synced
  latencies.push(performance.now() - started)
  upsPerRound.push((await upsSoFar()) - before)
}
events.close()
await apply.stop()
server.close()

const engine = execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
  encoding: 'utf8',
}).trim()
const bareMedian = median(bareTimes)
const syncMedian = median(syncTimes)
const refreshMedian = median(refreshTimes)
process.stdout.write(
  [
    `engine ${engine}, compose ${execFileSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8' }).trim()}, ${rounds} rounds`,
    `one-service stack, recreate: bare docker compose up -d --wait median ${bareMedian.toFixed(0)} ms; docker-cd sync median ${syncMedian.toFixed(0)} ms (${(syncMedian / bareMedian).toFixed(2)}×: validate + pull check + up + read-back)`,
    `${count} stacks deployed, start: ${upsAtStart} up runs (found in sync)`,
    `1 of ${count} changed, webhook → synced: p50 ${pct(latencies, 50).toFixed(0)} ms, p95 ${pct(latencies, 95).toFixed(0)} ms; up runs per change: ${[...new Set(upsPerRound)].join(', ')}; refresh median ${refreshMedian.toFixed(0)} ms; ratio to (bare up + refresh): ${(median(latencies) / (bareMedian + refreshMedian)).toFixed(2)}×`,
    '',
  ].join('\n'),
)
cleanup()
process.exit(0)
