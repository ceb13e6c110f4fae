// Refresh benchmark (not a test): cold, no-change and one-stack-changed
// refreshes on the loopback HTTPS Git server, beside the same run's bare
// `git ls-remote` and a fresh `git clone --depth 1` (the cost of a
// clone-per-refresh design). Prints a Markdown table.
//
//   npm run bench:refresh            # 200, 2,000 and 10,000 stacks
//   BENCH_SIZES=200 npm run bench:refresh
import { execFile, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createGitReader } from '../services/git/reader.js'
import { createRefreshController } from '../services/refresh/controller.js'
import { createRefreshSteps } from '../services/refresh/steps.js'
import { freePort } from '../test/helpers/free-port.js'
import { composeFor, createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { SERVICE_NODE_FLAGS } from './built-service.js'

const sizes = (process.env.BENCH_SIZES ?? '200,2000,10000').split(',').map(Number)
const execFileAsync = promisify(execFile)
const runs = Number(process.env.BENCH_RUNS ?? 5)
/** Node flags of the measured processes: the service's own (`npm start`, the image); BENCH_RSS_NODE_FLAGS overrides. */
const rssNodeFlags = (process.env.BENCH_RSS_NODE_FLAGS ?? SERVICE_NODE_FLAGS.join(' '))
  .split(' ')
  .filter(Boolean)
const TOKEN = 'bench-token-not-secret'

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
const time = async (fn: () => unknown) => {
  const start = performance.now()
  await fn()
  return performance.now() - start
}
let peakRss = 0
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
}, 5)

const server = await startGitServer({ token: TOKEN })
const gitEnv = {
  ...process.env,
  GIT_SSL_CAINFO: server.caFile,
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'http.extraHeader',
  GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`,
}
// Asynchronous on purpose: the Git server runs in this process.
const git = (...args: string[]) =>
  execFileAsync('git', args, { env: gitEnv, maxBuffer: 64 * 1024 * 1024 })

const rows: string[] = []
const startupRows: string[] = []

// Process start → /readyz 200 of the built service (`npm start`), with an
// empty cache dir, against the same repository: what an operator waits for
// after `docker run`.
const serverJs = join(import.meta.dirname, '..', 'dist', 'server.js')
/** Peak RSS of a process so far (VmHWM: its own, not inherited at fork). */
const peakRssOf = (pid: number) =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024

/**
 * Starts the built service; resolves with the time to /readyz 200 and its
 * peak RSS once it has also answered GET /api/stacks (the serialised list).
 */
async function startupTime(repoUrl: string): Promise<{ ms: number; peak: number }> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'docker-cd-bench-cache-'))
  const port = await freePort()
  const started = performance.now()
  const child = spawn(process.execPath, [...rssNodeFlags, serverJs], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GIT_REPO_URL: repoUrl,
      GIT_REVISION: 'main',
      GIT_ACCESS_TOKEN: TOKEN,
      GIT_SSL_CAINFO: server.caFile,
      GIT_CACHE_DIR: cacheDir,
      REFRESH_POLL_INTERVAL: '0',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  })
  try {
    for (;;) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
      if (ready) {
        const ms = performance.now() - started
        await (await fetch(`http://127.0.0.1:${port}/api/stacks`)).arrayBuffer()
        return { ms, peak: peakRssOf(child.pid as number) }
      }
      if (child.exitCode !== null) throw new Error(`service exited ${child.exitCode}`)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  } finally {
    child.kill('SIGKILL')
    rmSync(cacheDir, { recursive: true, force: true })
  }
}
for (const size of sizes) {
  const fixtureStart = performance.now()
  const repo = createFixtureRepo(server, { stacks: size, extraFilesPerStack: 3 })
  process.stderr.write(
    `${size} stacks: fixture built in ${Math.round(performance.now() - fixtureStart)} ms\n`,
  )

  const reader = (cacheDir: string) =>
    createGitReader({
      repoUrl: repo.url,
      revision: 'main',
      accessToken: TOKEN,
      username: 'x-access-token',
      cacheDir,
      timeoutMs: 600_000,
      memoryLimitBytes: 2 ** 30,
      sslCaInfo: server.caFile,
    })
  const newService = () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'docker-cd-bench-cache-'))
    const store = createRefreshController({
      runSteps: createRefreshSteps({ git: reader(cacheDir), deployDir: '' }),
      ref: 'main',
      refType: 'branch',
      pollIntervalMs: 0,
    })
    const refresh = async (trigger: 'startup' | 'periodic' | 'webhook') => {
      const outcome = await store.refresh(trigger).done
      if (outcome.status !== 'completed') throw new Error(outcome.message)
      return outcome
    }
    return { cacheDir, store, refresh }
  }

  const lsRemote: number[] = []
  const clone: number[] = []
  const startup: number[] = []
  const cold: number[] = []
  const noChange: number[] = []
  const changed: number[] = []
  let servicePeak = 0
  let service = newService()
  for (let run = 0; run < runs; run++) {
    lsRemote.push(await time(() => git('ls-remote', repo.url, 'refs/heads/main')))
    const cloneDir = mkdtempSync(join(tmpdir(), 'docker-cd-bench-clone-'))
    clone.push(
      await time(() =>
        git('clone', '--quiet', '--depth', '1', '--branch', 'main', repo.url, cloneDir),
      ),
    )
    rmSync(cloneDir, { recursive: true, force: true })
    if (size <= 2000 || run === 0) {
      const started = await startupTime(repo.url)
      if (size <= 2000) startup.push(started.ms)
      servicePeak = Math.max(servicePeak, started.peak)
    }

    rmSync(service.cacheDir, { recursive: true, force: true })
    await service.store.close()
    service = newService()
    cold.push(await time(() => service.refresh('startup')))
    if (service.store.current().stacks.length !== size)
      throw new Error('cold refresh missed stacks')
    noChange.push(await time(() => service.refresh('periodic')))

    repo.writeStack(
      `stack-${String(run).padStart(5, '0')}`,
      composeFor(`changed-${run}`, 'redis:7'),
    )
    const pushed = repo.commitAndPush(`change ${run}`)
    let hashed = -1
    changed.push(
      await time(async () => {
        hashed = (await service.refresh('webhook')).hashed
      }),
    )
    if (service.store.current().revision !== pushed || hashed !== 1)
      throw new Error('changed refresh wrong')
  }
  rmSync(service.cacheDir, { recursive: true, force: true })
  await service.store.close()

  // Peak RSS of the service alone: a separate Node process doing a cold and a no-change refresh.
  const rssCache = mkdtempSync(join(tmpdir(), 'docker-cd-bench-cache-'))
  const child = await execFileAsync(process.execPath, [...rssNodeFlags, 'bench/refresh-rss.ts'], {
    env: {
      ...process.env,
      BENCH_REPO_URL: repo.url,
      BENCH_TOKEN: TOKEN,
      BENCH_CACHE_DIR: rssCache,
      BENCH_CA_FILE: server.caFile,
      BENCH_STACKS: String(size),
    },
  })
  rmSync(rssCache, { recursive: true, force: true })
  const rss = JSON.parse(child.stdout) as { before: number; peak: number; maxRss: number }
  const serviceRss = rss.peak
  process.stderr.write(
    `${size} stacks, service: RSS ${(rss.before / 2 ** 20).toFixed(1)} MiB before, peak (VmHWM) ${(rss.peak / 2 ** 20).toFixed(1)} MiB; maxRSS ${(rss.maxRss / 2 ** 20).toFixed(1)} MiB (inherits the bench's RSS at fork)\n`,
  )

  const m = {
    lsRemote: median(lsRemote),
    clone: median(clone),
    cold: median(cold),
    noChange: median(noChange),
    changed: median(changed),
  }
  const ms = (value: number) => `${value.toFixed(0)} ms`
  rows.push(
    `| ${size.toLocaleString('en-US')} | ${ms(m.cold)} | ${ms(m.noChange)} (${(m.noChange / m.lsRemote).toFixed(2)}×) | ${ms(m.changed)} (${(m.changed / m.clone).toFixed(2)}×) | ${ms(m.lsRemote)} | ${ms(m.clone)} | ${(serviceRss / 1024 / 1024).toFixed(0)} MB | ${(servicePeak / 1024 / 1024).toFixed(0)} MB | ${(peakRss / 1024 / 1024).toFixed(0)} MB |`,
  )
  process.stderr.write(`${rows.at(-1)}\n`)
  if (startup.length > 0) {
    startupRows.push(
      `| ${size.toLocaleString('en-US')} | ${ms(median(startup))} | ${ms(m.clone)} | ${(median(startup) / m.clone).toFixed(2)}× |`,
    )
    process.stderr.write(`${startupRows.at(-1)}\n`)
  }
}
clearInterval(sampler)
await server.close()

console.log(
  `\nRefresh benchmark: medians of ${runs} runs, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${spawnSync('git', ['--version'], { encoding: 'utf8' }).stdout.trim()}\n`,
)
console.log(
  '| stacks | cold refresh | no-change refresh (÷ ls-remote) | one stack changed (÷ depth-1 clone) | git ls-remote | git clone --depth 1 | peak RSS, refresh path | peak RSS, service process (ready + GET /api/stacks) | peak RSS, bench process |',
)
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const row of rows) console.log(row)
console.log(
  '\nStartup: process start → /readyz 200 (dist/server.js, empty cache dir), beside a depth-1 clone\n',
)
console.log('| stacks | start → ready | git clone --depth 1 | ratio |')
console.log('|---:|---:|---:|---:|')
for (const row of startupRows) console.log(row)
