// Host benchmark (not a test): BENCH_STACKS (200) stacks of the tiny test
// image deployed on the real engine by hand (`docker compose up -d` in a
// directory of the stack's name, so Compose picks the same project), then
// the built service with SYNC_MODE=detect:
//  - startup: from the first snapshot (/readyz) to every stack `synced`
//    (the first full picture), and from process start;
//  - live: `docker stop` of one stack's container → its SSE stack-status
//    event (BENCH_ROUNDS rounds, p50/p95), the container started again
//    between rounds;
//  - the service's RSS with every stack watched.
//
//   npm run bench:host
//   BENCH_STACKS=50 BENCH_ROUNDS=10 npm run bench:host
import { execFile, execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { EventSource } from 'eventsource'
import { ensureTestImage, hostUnavailable, removeProject } from '../test/helpers/docker.js'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { tempDir } from '../test/helpers/temp-dir.js'
import { rssOf, startBuiltService } from './built-service.js'

const run = promisify(execFile)
const TOKEN = 'bench-token-host'
const count = Number(process.env.BENCH_STACKS ?? 200)
const rounds = Number(process.env.BENCH_ROUNDS ?? 20)
const unavailable = hostUnavailable()
if (unavailable) {
  process.stderr.write(`bench:host needs the host: ${unavailable}\n`)
  process.exit(1)
}
const image = ensureTestImage()
const names = Array.from({ length: count }, (_, i) => `bench-host-${String(i).padStart(3, '0')}`)
const composeFile = `services:\n  app:\n    image: ${image}\n    command: ["sleep", "86400"]\n    network_mode: none\n`
let cleaned = false
const cleanup = () => {
  if (cleaned) return
  cleaned = true
  for (const name of names) removeProject(name)
}
process.on('exit', cleanup)

const server = await startGitServer({ token: TOKEN })
const repo = createFixtureRepo(server, { stacks: 0 })
for (const name of names) repo.writeFile(`${name}/compose.yaml`, composeFile)
repo.commitAndPush(`${count} stacks`)

process.stderr.write(`deploying ${count} stacks by hand…\n`)
const deployDir = tempDir('docker-cd-bench-deploy-')
let next = 0
const deployStarted = performance.now()
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (next < names.length) {
      const name = names[next++] as string
      const dir = join(deployDir, name)
      mkdirSync(dir)
      writeFileSync(join(dir, 'compose.yaml'), composeFile)
      await run('docker', ['compose', 'up', '-d'], { cwd: dir })
    }
  }),
)
process.stderr.write(`deployed in ${((performance.now() - deployStarted) / 1000).toFixed(1)} s\n`)

const stacksDir = join(tempDir('docker-cd-bench-stacks-'), 'stacks')
type Listed = { path: string; status: string }
/** Starts the service; resolves with it once every stack reads synced, and the times. */
async function fullPicture() {
  const spawnedAt = performance.now()
  const service = await startBuiltService({
    server,
    repoUrl: repo.url,
    token: TOKEN,
    env: { SYNC_MODE: 'detect', STACKS_DIR: stacksDir },
  })
  const readyAt = performance.now()
  const allSynced = async () => {
    const stacks = (await (await fetch(`${service.base}/api/stacks`)).json()) as Listed[]
    return stacks.length === count && stacks.every((stack) => stack.status === 'synced')
  }
  while (!(await allSynced())) await new Promise((resolve) => setTimeout(resolve, 50))
  const pictureAt = performance.now()
  const metrics = await (await fetch(`${service.base}/metrics`)).text()
  const runs = (asked: string) =>
    Number(
      new RegExp(`docker_cd_compose_runs_total\\{asked="${asked}"\\} (\\d+)`).exec(metrics)?.[1] ??
        0,
    )
  return {
    service,
    afterSnapshot: (pictureAt - readyAt) / 1000,
    afterStart: (pictureAt - spawnedAt) / 1000,
    composeRuns: `${runs('model')} model + ${runs('plan')} plan`,
  }
}
const first = await fullPicture()
const service = first.service

const events = new EventSource(`${service.base}/api/events`)
const waiters = new Map<string, () => void>()
events.addEventListener('stack-status', (event) => {
  const data = JSON.parse(event.data) as { path: string; to: string }
  waiters.get(`${data.path} ${data.to}`)?.()
})
await new Promise((resolve) => events.addEventListener('open', resolve))
const eventFor = (path: string, to: string) =>
  new Promise<void>((resolve) => waiters.set(`${path} ${to}`, resolve))

const latencies: number[] = []
for (let round = 0; round < rounds; round++) {
  const name = names[(round * 37) % count] as string
  const stopped = eventFor(name, 'out_of_sync')
  const started = performance.now()
  await run('docker', ['stop', '-t', '0', `${name}-app-1`])
  await stopped
  latencies.push(performance.now() - started)
  const back = eventFor(name, 'synced')
  await run('docker', ['start', `${name}-app-1`])
  await back
}
const rss = rssOf(service.pid)
events.close()
await service.stop()
// A restart on the same STACKS_DIR, nothing changed on the host.
const again = await fullPicture()
await again.service.stop()
server.close()

const sorted = [...latencies].sort((a, b) => a - b)
const pct = (p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
const engine = execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
  encoding: 'utf8',
}).trim()
process.stdout.write(
  [
    `stacks deployed: ${count} (engine ${engine}, compose ${execFileSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8' }).trim()})`,
    `first full picture, first start: ${first.afterSnapshot.toFixed(1)} s after the first snapshot (${first.afterStart.toFixed(1)} s after process start; Compose runs: ${first.composeRuns})`,
    `first full picture, restart: ${again.afterSnapshot.toFixed(1)} s after the first snapshot (${again.afterStart.toFixed(1)} s after process start; Compose runs: ${again.composeRuns})`,
    `docker stop → SSE stack-status: p50 ${pct(50).toFixed(0)} ms, p95 ${pct(95).toFixed(0)} ms, max ${(sorted.at(-1) ?? 0).toFixed(0)} ms (${rounds} rounds)`,
    `service RSS with ${count} stacks watched: ${(rss / 1024 / 1024).toFixed(1)} MiB`,
    '',
  ].join('\n'),
)
cleanup()
process.exit(0)
