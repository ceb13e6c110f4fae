// Mirror-size benchmark (not a test): the issue-11 scenario. A repository of
// ~150 KB gets 300 commits that each rewrite 100 KB; the service refreshes
// after each. Prints the mirror's disk use after the first refresh, after
// the last, and at its largest, and how often it was pruned (target: at
// most 4× the first size after 300 commits; it grew to 38 MB before).
//
//   npm run bench:mirror-size
//   BENCH_COMMITS=100 npm run bench:mirror-size
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createGitReader } from '../services/git/reader.js'
import { createRefreshController } from '../services/refresh/controller.js'
import { createRefreshSteps } from '../services/refresh/steps.js'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'

const commits = Number(process.env.BENCH_COMMITS ?? 300)
const TOKEN = 'bench-token-not-secret'
const server = await startGitServer({ token: TOKEN })
const repo = createFixtureRepo(server, { stacks: 2 })
repo
  .writeFile('stack-00000/static.bin', randomBytes(48 * 1024))
  .writeFile('stack-00001/data.bin', randomBytes(100 * 1024))
  .commitAndPush('about 150 KB')

const cacheDir = mkdtempSync(join(tmpdir(), 'docker-cd-bench-cache-'))
const diskUse = (dir: string) =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce((sum, entry) => sum + statSync(join(entry.parentPath, entry.name)).size, 0)

const controller = createRefreshController({
  runSteps: createRefreshSteps({
    git: createGitReader({
      repoUrl: repo.url,
      revision: 'main',
      accessToken: TOKEN,
      username: 'x-access-token',
      cacheDir,
      timeoutMs: 60_000,
      memoryLimitBytes: 2 ** 30,
      sslCaInfo: server.caFile,
    }),
    deployDir: '',
  }),
  ref: 'main',
  refType: 'branch',
  pollIntervalMs: 0,
})
const refresh = async () => {
  const outcome = await controller.refresh('manual').done
  if (outcome.status !== 'completed') throw new Error(outcome.message)
  return outcome
}

await refresh()
const first = diskUse(cacheDir)
let largest = first
let prunes = 0
const pruneMs: number[] = []
const started = performance.now()
for (let i = 0; i < commits; i++) {
  repo.writeFile('stack-00001/data.bin', randomBytes(100 * 1024)).commitAndPush()
  const outcome = await refresh()
  if (outcome.steps.includes('prune-mirror')) {
    prunes++
    pruneMs.push(outcome.durationMs)
  }
  largest = Math.max(largest, diskUse(cacheDir))
}
const refreshSeconds = (performance.now() - started) / 1000
const last = diskUse(cacheDir)
await controller.close()
rmSync(cacheDir, { recursive: true, force: true })
await server.close()

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`
console.log(
  `| ${commits} commits × 100 KB | first ${kb(first)} | last ${kb(last)} (${(last / first).toFixed(2)}×) | largest ${kb(largest)} (${(largest / first).toFixed(2)}×) | ${prunes} prunes | refresh with prune, median ${pruneMs.sort((a, b) => a - b)[Math.floor(pruneMs.length / 2)]?.toFixed(0)} ms | ${commits} refreshes in ${refreshSeconds.toFixed(0)} s |`,
)
if (last > 4 * first) process.exitCode = 1
