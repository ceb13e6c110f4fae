// Huge-file benchmark (not a test): one stack whose Compose file is 512 MiB
// when read but small in Git (repetitive YAML compresses ~1,000-fold), as a
// hostile or careless commit can make it. The refresh path runs in its own
// process (bench/refresh-rss.ts) and reports its RSS before the refresh and
// at its peak; target: growth under ~64 MB, and the right SHA-256.
//
//   npm run bench:huge-compose                  # 512 MiB
//   BENCH_HUGE_MIB=256 npm run bench:huge-compose
import { execFile, execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'

const mib = Number(process.env.BENCH_HUGE_MIB ?? 512)
const TOKEN = 'bench-token-not-secret'
const server = await startGitServer({ token: TOKEN })
const repo = createFixtureRepo(server, { stacks: 0 })
const file = join(repo.workDir, 'huge', 'compose.yaml')
// Written by a shell, not by this process: a child's maxRSS starts from its
// parent's RSS at fork (see BENCHMARKS.md), so this process must stay small.
execFileSync('bash', [
  '-c',
  `mkdir -p "$(dirname "$0")" && { echo 'services:'; yes '  # padding padding padding padding padding padding' ; } | head -c ${mib * 1024 * 1024} > "$0"`,
  file,
])
const expected = createHash('sha256')
for await (const chunk of createReadStream(file)) expected.update(chunk)
repo.commitAndPush('a huge Compose file')

const cacheDir = mkdtempSync(join(tmpdir(), 'docker-cd-bench-cache-'))
const started = performance.now()
const child = await promisify(execFile)(
  process.execPath,
  ['--import=tsx', 'bench/refresh-rss.ts'],
  {
    env: {
      ...process.env,
      BENCH_REPO_URL: repo.url,
      BENCH_TOKEN: TOKEN,
      BENCH_CACHE_DIR: cacheDir,
      BENCH_CA_FILE: server.caFile,
      BENCH_STACKS: '1',
    },
  },
)
const seconds = (performance.now() - started) / 1000
const result = JSON.parse(child.stdout) as { before: number; peak: number; composeHashes: string[] }
rmSync(cacheDir, { recursive: true, force: true })
await server.close()

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`
const growth = result.peak - result.before
const correct = result.composeHashes[0] === expected.digest('hex')
console.log(
  `| ${mib} MiB Compose file | RSS before ${mb(result.before)} | peak ${mb(result.peak)} | growth ${mb(growth)} | ${seconds.toFixed(1)} s | hash ${correct ? 'correct' : 'WRONG'} |`,
)
if (!correct) process.exitCode = 1
