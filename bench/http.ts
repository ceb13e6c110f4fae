// HTTP benchmark (not a test): autocannon against GET /api/stacks (200
// stacks) and GET /api/refresh-status beside a bare Fastify hello-world in
// the same run; webhook → updated cache latency over 20 signed pushes (the
// default REFRESH_RATE_LIMIT burst is 30, so none is paced); and
// POST /api/refresh latency while a refresh is running. Prints Markdown.
//
//   npm run bench:http
import { execFile } from 'node:child_process'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Fastify from 'fastify'
import { buildApp, startApp } from '../app.js'
import { loadConfig } from '../services/base/config.js'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { sendPush } from '../test/helpers/github.js'
import { tempDir } from '../test/helpers/temp-dir.js'

const execFileAsync = promisify(execFile)
const SECRET = 'bench-secret'
const TOKEN = 'bench-token'
const duration = process.env.BENCH_DURATION ?? '10'

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

const git = await startGitServer({ token: TOKEN })
const repo = createFixtureRepo(git, { stacks: 200 })
const app = await buildApp({
  config: loadConfig({
    GIT_REPO_URL: repo.url,
    GIT_REVISION: 'main',
    GIT_ACCESS_TOKEN: TOKEN,
    WEBHOOK_SECRET: SECRET,
    GIT_SSL_CAINFO: git.caFile,
    GIT_CACHE_DIR: tempDir('docker-cd-bench-'),
    GIT_TIMEOUT: '60s',
    REFRESH_POLL_INTERVAL: '0',
  }),
})
await startApp(app)
const base = await app.listen({ port: 0, host: '127.0.0.1' })
const hello = Fastify()
hello.get('/hello', async () => ({ hello: 'world' }))
const helloBase = await hello.listen({ port: 0, host: '127.0.0.1' })

// autocannon in its own process, so the load generator does not share the server's event loop.
async function cannon(url: string) {
  const { stdout } = await execFileAsync(
    join('node_modules', '.bin', 'autocannon'),
    ['-c', '50', '-d', duration, '--json', url],
    { maxBuffer: 64 * 1024 * 1024 },
  )
  const result = JSON.parse(stdout)
  return {
    rps: result.requests.average as number,
    p99: result.latency.p99 as number,
    errors: result.non2xx + result.errors,
  }
}

// Hello-world runs before and after; the faster of the two is the baseline
// (conservative for the ratios, and it shows the machine's run-to-run noise).
const helloBefore = await cannon(`${helloBase}/hello`)
const stacksResult = await cannon(`${base}/api/stacks`)
const statusResult = await cannon(`${base}/api/refresh-status`)
const detailResult = await cannon(`${base}/api/stacks/stack-00042`)
const helloAfter = await cannon(`${helloBase}/hello`)
const helloResult = helloBefore.rps >= helloAfter.rps ? helloBefore : helloAfter

// Webhook → cache reflects the pushed commit.
const webhookLatencies: number[] = []
const PUSHES = 20
for (let i = 0; i < PUSHES; i++) {
  const head = repo
    .writeStack(
      `stack-${String(i % 200).padStart(5, '0')}`,
      `services:\n  s:\n    image: app:${i}\n`,
    )
    .commitAndPush()
  const start = performance.now()
  const res = await sendPush(base, head, SECRET)
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}`)
  while (app.desiredState.current().revision !== head)
    await new Promise((resolve) => setImmediate(resolve))
  webhookLatencies.push(performance.now() - start)
}

// POST /api/refresh while a refresh is running (held in a hanging ls-remote).
git.setHang(true)
app.desiredState.refresh('manual')
const refreshLatencies: number[] = []
for (let i = 0; i < 200; i++) {
  const start = performance.now()
  const res = await fetch(`${base}/api/refresh`, { method: 'POST' })
  await res.json()
  refreshLatencies.push(performance.now() - start)
}
git.setHang(false)
await git.stop()
await app.close()
await hello.close()
await git.close()

const row = (name: string, r: { rps: number; p99: number; errors: number }) =>
  `| ${name} | ${Math.round(r.rps).toLocaleString('en-US')} | ${(r.rps / helloResult.rps).toFixed(2)} | ${r.p99} ms | ${r.errors} |`
console.log(
  `\nHTTP benchmark: autocannon -c 50 -d ${duration}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`,
)
console.log('| route | req/s | ÷ hello-world | p99 latency | errors/non-2xx |')
console.log('|---|---:|---:|---:|---:|')
console.log(row('bare Fastify `GET /hello` (before)', helloBefore))
console.log(row('bare Fastify `GET /hello` (after)', helloAfter))
console.log(row('`GET /api/stacks` (200 stacks)', stacksResult))
console.log(row('`GET /api/refresh-status`', statusResult))
console.log(row('`GET /api/stacks/{name}`', detailResult))
console.log('\n| measurement | p50 | p95 | p99 | n |')
console.log('|---|---:|---:|---:|---:|')
console.log(
  `| signed webhook → cache has the pushed commit | ${percentile(webhookLatencies, 50).toFixed(0)} ms | ${percentile(webhookLatencies, 95).toFixed(0)} ms | ${percentile(webhookLatencies, 99).toFixed(0)} ms | ${PUSHES} |`,
)
console.log(
  `| \`POST /api/refresh\` while a refresh runs | ${percentile(refreshLatencies, 50).toFixed(2)} ms | ${percentile(refreshLatencies, 95).toFixed(2)} ms | ${percentile(refreshLatencies, 99).toFixed(2)} ms | 200 |`,
)
process.exit(0)
