// Child process of bench/refresh.ts and bench/huge-compose.ts: runs only the
// service's refresh path (cold, then no-change) so its peak RSS is the
// service's, not the benchmark harness's. Prints JSON: the RSS before the
// first refresh and the peak, in bytes (and the Compose hashes).
import { readFileSync } from 'node:fs'

// The compiled service (dist/, built by bench:refresh), run by Node itself
// with no TypeScript loader in the process: what `npm start` and the image
// run. (Node strips this file's own types; the modules come from dist.)
const dist = new URL('../dist/services/', import.meta.url)
const { createGitReader } = (await import(
  new URL('git/reader.js', dist).href
)) as typeof import('../services/git/reader.js')
const { createRefreshController } = (await import(
  new URL('refresh/controller.js', dist).href
)) as typeof import('../services/refresh/controller.js')
const { createRefreshSteps } = (await import(
  new URL('refresh/steps.js', dist).href
)) as typeof import('../services/refresh/steps.js')

const env = process.env as Record<string, string>
const runSteps = createRefreshSteps({
  git: createGitReader({
    repoUrl: env.BENCH_REPO_URL as string,
    revision: 'main',
    accessToken: env.BENCH_TOKEN,
    username: 'x-access-token',
    cacheDir: env.BENCH_CACHE_DIR as string,
    timeoutMs: 600_000,
    memoryLimitBytes: 2 ** 30,
    sslCaInfo: env.BENCH_CA_FILE,
  }),
  deployDir: '',
})
const store = createRefreshController({
  runSteps,
  ref: 'main',
  refType: 'branch',
  pollIntervalMs: 0,
})
const before = process.memoryUsage.rss()
for (const trigger of ['startup', 'periodic'] as const) {
  const outcome = await store.refresh(trigger).done
  if (outcome.status !== 'completed') throw new Error(outcome.message)
}
await store.close()
if (store.current().stacks.length !== Number(env.BENCH_STACKS)) throw new Error('wrong stack count')
process.stdout.write(
  JSON.stringify({
    before,
    // VmHWM is this process's own peak: maxRSS would start from the
    // parent's RSS at fork (it survives exec), and the bench process is
    // larger than the service at 10,000 stacks.
    peak: Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024,
    maxRss: process.resourceUsage().maxRSS * 1024,
    composeHashes: store.current().stacks.map((stack) => stack.composeHash),
  }),
)
