// Event-feed memory benchmark (not a test): the built service with many
// subscribers that never read, sent large events. Each subscriber is its
// own client (a loopback source address per 10 subscribers, so the
// per-client cap is not what stops them); every refresh event lists every
// stack as changed (~230 KB of names). The service's peak RSS growth is
// sampled every 10 ms, and /metrics says how many were dropped.
//
//   npm run bench:feed-rss
//   BENCH_SUBSCRIBERS=200 BENCH_EVENTS=12 BENCH_SERVER_JS=/other/dist/server.js BENCH_NODE_FLAGS=' ' npm run bench:feed-rss
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { rawRequest } from '../test/helpers/raw-http.js'
import { startBuiltService, watchRss } from './built-service.js'

const TOKEN = 'bench-token-feed-rss'
const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 200)
const events = Number(process.env.BENCH_EVENTS ?? 14)
const stacks = 2000

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)

const server = await startGitServer({ token: TOKEN })
const repo = createFixtureRepo(server, {})
const names = Array.from({ length: stacks }, (_, i) => `stack-${i}-${'x'.repeat(100)}`)
const writeAll = (round: number) => {
  for (const name of names) repo.writeStack(name, `services:\n  s:\n    image: app:${round}\n`)
  return repo.commitAndPush(`round ${round}`)
}
process.stderr.write(`building ${stacks} stacks with long names…\n`)
writeAll(0)
const service = await startBuiltService({
  server,
  repoUrl: repo.url,
  token: TOKEN,
  serverJs: process.env.BENCH_SERVER_JS,
  ...(process.env.BENCH_NODE_FLAGS !== undefined
    ? { nodeFlags: process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean) }
    : {}),
})
const { base, pid } = service
const port = Number(new URL(base).port)

const held = Array.from({ length: subscribers }, (_, i) =>
  rawRequest(port, 'GET', '/api/events', {
    stallAfterHead: true,
    localAddress: `127.0.0.${2 + Math.floor(i / 10)}`,
  }),
)
const statuses = await Promise.all(held.map((stream) => stream.head.then((head) => head.status)))
const accepted = statuses.filter((status) => status === 200).length
const memory = await watchRss(pid)
let eventBytes = 0
for (let round = 1; round <= events; round++) {
  writeAll(round)
  const res = await fetch(`${base}/api/refresh?wait=true`, { method: 'POST' })
  const body = (await res.json()) as { changes?: { changed?: string[] } }
  eventBytes = JSON.stringify(body.changes ?? {}).length
}
await new Promise((resolve) => setTimeout(resolve, 1000))
const { before, peak } = memory.stop()
const metrics = await (await fetch(`${base}/metrics`)).text()
const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN)
for (const stream of held) stream.socket.destroy()
await service.stop()
await server.close()
console.log(
  `| ${subscribers} non-reading subscribers (${accepted} accepted), ${events} events of ~${Math.round(eventBytes / 1024)} KB | RSS ${mib(before)} → peak ${mib(peak)} MiB (+${mib(peak - before)}) | dropped ${gauge('docker_cd_event_subscribers_dropped_total')}, still subscribed ${gauge('docker_cd_event_subscribers')} |`,
)
process.exit(0)
