// Consumer benchmark (not a test): archives and the change feed of the built
// service (dist/server.js, a process of its own, so its RSS is its own)
// against the loopback HTTPS Git server. Prints Markdown tables.
//
//   npm run bench:consumers
//   BENCH_SUBSCRIBERS=1000 BENCH_ARCHIVE_MB=50 BENCH_BIG_MB=200 npm run bench:consumers
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createFixtureRepo, git, sha256 } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { sendPush } from '../test/helpers/github.js'
import { startBuiltService } from './built-service.js'

const execFileAsync = promisify(execFile)
const TOKEN = 'bench-token-consumers'
const SECRET = 'bench-secret-consumers'
const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 1000)
const archiveMb = Number(process.env.BENCH_ARCHIVE_MB ?? 50)
const bigMb = Number(process.env.BENCH_BIG_MB ?? 200)
const runs = Number(process.env.BENCH_RUNS ?? 5)

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}
const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`

/** Text that compresses like configuration does (hex digests, ~2:1). */
function filler(seed: string, bytes: number): string {
  let text = ''
  while (text.length < bytes) text += `${sha256(`${seed}${text.length}`)}\n`
  return text.slice(0, bytes)
}

const server = await startGitServer({ token: TOKEN })
const repo = createFixtureRepo(server, { stacks: 2 })
process.stderr.write('building the fixture…\n')
for (let i = 0; i < 1000; i++) {
  repo.writeFile(
    `medium/files/f${String(i).padStart(4, '0')}.conf`,
    filler(`m${i}`, (archiveMb * 1024 * 1024) / 1000),
  )
}
repo.writeStack('medium')
for (let i = 0; i < 20; i++) {
  repo.writeFile(`big/data/part${i}.txt`, filler(`b${i}`, (bigMb * 1024 * 1024) / 20))
}
repo.writeStack('big')
repo.commitAndPush('consumer fixture')

const service = await startBuiltService({
  server,
  repoUrl: repo.url,
  token: TOKEN,
  env: { WEBHOOK_SECRET: SECRET },
})
const { base, pid, cacheDir } = service

/** Downloads a URL, discarding the bytes; returns seconds and bytes, sampling the service RSS. */
async function download(url: string) {
  let peak = 0
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(pid))
  }, 10)
  const start = performance.now()
  const res = await fetch(url)
  let bytes = 0
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) bytes += chunk.length
  clearInterval(sampler)
  return { seconds: (performance.now() - start) / 1000, bytes, peak }
}

// Archive throughput beside `git archive` of the same tree from the same mirror.
const mirror = join(cacheDir, readdirSync(cacheDir).find((name) => name.endsWith('.git')) as string)
const mediumTree = git(mirror, 'rev-parse', 'refs/docker-cd/target:medium')
const ours: number[] = []
const gitTarGz: number[] = []
const gitTar: number[] = []
let archiveBytes = 0
for (let run = 0; run < runs; run++) {
  const result = await download(`${base}/api/stacks/medium/archive`)
  ours.push(result.seconds)
  archiveBytes = result.bytes
  for (const [format, into] of [
    ['tar.gz', gitTarGz],
    ['tar', gitTar],
  ] as const) {
    const start = performance.now()
    await execFileAsync('sh', [
      '-c',
      `git --git-dir=${mirror} archive --format=${format} ${mediumTree} > /dev/null`,
    ])
    into.push((performance.now() - start) / 1000)
  }
}

// RSS growth while streaming the big stack.
await new Promise((resolve) => setTimeout(resolve, 500))
const rssBefore = rssOf(pid)
const big = await download(`${base}/api/stacks/big/archive`)

// 1,000 subscribers: signed webhook → the refresh event at every client.
type Client = { received: Map<string, number>; close: () => void }
/** The service's own refresh duration per revision, from the events' startedAt/finishedAt. */
const refreshDurations = new Map<string, number>()
function subscribe(): Promise<Client> {
  return new Promise((resolve, reject) => {
    const received = new Map<string, number>()
    const req = request(
      `${base}/api/events`,
      { headers: { accept: 'text/event-stream' } },
      (res) => {
        let buffer = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          buffer += chunk
          let end = buffer.indexOf('\n\n')
          while (end !== -1) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            const data = /^data: (.*)$/m.exec(block)?.[1]
            if (/^event: refresh$/m.test(block) && data) {
              const event = JSON.parse(data) as {
                revision: string
                startedAt: string
                finishedAt: string
              }
              received.set(event.revision, performance.now())
              refreshDurations.set(
                event.revision,
                Date.parse(event.finishedAt) - Date.parse(event.startedAt),
              )
            }
            end = buffer.indexOf('\n\n')
          }
        })
        resolve({ received, close: () => req.destroy() })
      },
    )
    req.on('error', reject)
    req.end()
  })
}
const rssIdle = rssOf(pid)
const clients: Client[] = []
for (let i = 0; i < subscribers; i++) clients.push(await subscribe())
await new Promise((resolve) => setTimeout(resolve, 500))
const rssSubscribed = rssOf(pid)
const ratios: { p95: number; refresh: number }[] = []
for (let run = 0; run < runs; run++) {
  const head = repo.writeStack(`fan-${run}`).commitAndPush()
  const sent = performance.now()
  const res = await sendPush(base, head, SECRET)
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
  while (!clients.every((client) => client.received.has(head)))
    await new Promise((resolve) => setTimeout(resolve, 5))
  const latencies = clients.map((client) => (client.received.get(head) as number) - sent)
  const status = (await (await fetch(`${base}/api/refresh-status`)).json()) as {
    refreshedAt: string
  }
  void status
  const p95 = percentile(latencies, 95)
  ratios.push({ p95, refresh: refreshDurations.get(head) ?? Number.NaN })
}
const rssPeakSubscribed = rssOf(pid)
for (const client of clients) client.close()

await service.stop()
await server.close()

const rate = (seconds: number) => `${(archiveBytes / 1024 / 1024 / seconds).toFixed(0)} MB/s`
console.log(
  `\nConsumer benchmark: medians of ${runs} runs, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`,
)
console.log(
  '| archive of a 1,000-file stack | time | throughput (of the .tar.gz) | ÷ git archive --format=tar.gz |',
)
console.log('|---|---:|---:|---:|')
console.log(
  `| \`GET /api/stacks/{name}/archive\` (${archiveMb} MB of files, ${mb(archiveBytes)} gzipped) | ${(median(ours) * 1000).toFixed(0)} ms | ${rate(median(ours))} | ${(median(gitTarGz) / median(ours)).toFixed(2)}× |`,
)
console.log(
  `| \`git archive --format=tar.gz\` → /dev/null | ${(median(gitTarGz) * 1000).toFixed(0)} ms | ${rate(median(gitTarGz))} | 1.00× |`,
)
console.log(
  `| \`git archive --format=tar\` → /dev/null (no compression) | ${(median(gitTar) * 1000).toFixed(0)} ms | — | — |`,
)
console.log(
  `\nStreaming the ${bigMb} MB stack (${mb(big.bytes)} gzipped, ${big.seconds.toFixed(1)} s): service RSS ${mb(rssBefore)} before, peak ${mb(big.peak)} (growth ${mb(big.peak - rssBefore)}).`,
)
console.log(
  `\n${subscribers} SSE subscribers: service RSS ${mb(rssIdle)} idle, ${mb(rssSubscribed)} subscribed, ${mb(rssPeakSubscribed)} after ${runs} fan-outs.\n`,
)
console.log(
  '| run | webhook → refresh event at all clients, p95 | the refresh itself (event startedAt → finishedAt) | limit 1.5 × refresh + 100 ms |',
)
console.log('|---:|---:|---:|---:|')
for (const [i, r] of ratios.entries()) {
  console.log(
    `| ${i + 1} | ${r.p95.toFixed(0)} ms | ${r.refresh.toFixed(0)} ms | ${(1.5 * r.refresh + 100).toFixed(0)} ms |`,
  )
}
