// Dashboard benchmark (not a test): the server time of the first paint of
// 200 stacks (GET /ui: from request to the last byte of the HTML, through
// Fastify's inject, so no network) and of a stack's page (it lists the
// stack's tree and reads its Compose file from the mirror), 300 requests
// each after 20 warm-up ones; the page and asset sizes.
//
//   npm run bench:ui
import { buildApp, startApp } from '../app.js'
import { loadConfig } from '../services/base/config.js'
import { UI_ASSETS } from '../services/ui/index.js'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { tempDir } from '../test/helpers/temp-dir.js'

const TOKEN = 'bench-token-ui'
const count = Number(process.env.BENCH_STACKS ?? 200)
const git = await startGitServer({ token: TOKEN })
const repo = createFixtureRepo(git, { stacks: count })
const app = await buildApp({
  config: loadConfig({
    GIT_REPO_URL: repo.url,
    GIT_REVISION: 'main',
    GIT_ACCESS_TOKEN: TOKEN,
    GIT_SSL_CAINFO: git.caFile,
    GIT_CACHE_DIR: tempDir('docker-cd-bench-'),
    SYNC_MODE: 'off',
    LOG_LEVEL: 'silent',
  }),
  // Measured, not shed: a loaded machine must not turn a slow answer into a 503.
  maxEventLoopDelayMs: 60_000,
})
await startApp(app)
const stack = app.desiredState.current().stacks[0]?.path as string

async function timed(url: string) {
  const times: number[] = []
  let bytes = 0
  for (let i = 0; i < 320; i++) {
    const started = performance.now()
    const response = await app.inject(url)
    const elapsed = performance.now() - started
    if (response.statusCode !== 200)
      throw new Error(`${url} answered ${response.statusCode}: ${response.body}`)
    bytes = response.rawPayload.length
    if (i >= 20) times.push(elapsed)
  }
  times.sort((a, b) => a - b)
  const at = (p: number) => times[Math.ceil((p / 100) * times.length) - 1] as number
  return { p50: at(50), p95: at(95), max: times.at(-1) as number, bytes }
}

const list = await timed('/ui')
const one = await timed(`/ui/stacks/${stack}`)
const assets = UI_ASSETS.reduce((sum, asset) => sum + asset.body.length, 0)
process.stdout.write(
  [
    `GET /ui, ${count} stacks: p50 ${list.p50.toFixed(2)} ms, p95 ${list.p95.toFixed(2)} ms, max ${list.max.toFixed(2)} ms server time; ${(list.bytes / 1024).toFixed(1)} KiB of HTML`,
    `GET /ui/stacks/{name}: p50 ${one.p50.toFixed(2)} ms, p95 ${one.p95.toFixed(2)} ms, max ${one.max.toFixed(2)} ms; ${(one.bytes / 1024).toFixed(1)} KiB`,
    `assets: ${UI_ASSETS.map((a) => `${a.file} ${a.body.length} B`).join(', ')} (${(assets / 1024).toFixed(1)} KiB in all)`,
    '',
  ].join('\n'),
)
await app.close()
git.close()
process.exit(0)
