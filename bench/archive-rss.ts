import { randomBytes } from 'node:crypto'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { SERVICE_NODE_FLAGS, startBuiltService, watchRss } from './built-service.js'

const TOKEN = 'bench-token-archive-rss'
const archiveMb = Number(process.env.BENCH_ARCHIVE_MB ?? 200)
const slowMbps = Number(process.env.BENCH_SLOW_MBPS ?? 1)
const slowSeconds = Number(process.env.BENCH_SLOW_SECONDS ?? 30)
const runs = Number(process.env.BENCH_RUNS ?? 3)
/** The service's own flags unless BENCH_NODE_FLAGS says otherwise (`BENCH_NODE_FLAGS= ` for none). */
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? SERVICE_NODE_FLAGS.join(' '))
  .split(' ')
  .filter(Boolean)

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)

const server = await startGitServer({ token: TOKEN })
const repo = createFixtureRepo(server, { stacks: 1 })
process.stderr.write(`building a ${archiveMb} MB incompressible stack…\n`)
const files = 10
for (let i = 0; i < files; i++)
  repo.writeFile(`random/part${i}.bin`, randomBytes(Math.round((archiveMb * 2 ** 20) / files)))
repo.writeStack('random')
repo.commitAndPush('incompressible fixture')

const service = await startBuiltService({ server, repoUrl: repo.url, token: TOKEN, nodeFlags })
const { base, pid } = service

/** Downloads the archive at up to `bytesPerSecond` (or as fast as possible) for at most `seconds`. */
async function download(bytesPerSecond?: number, seconds = Number.POSITIVE_INFINITY) {
  const memory = await watchRss(pid)
  const start = performance.now()
  const controller = new AbortController()
  const res = await fetch(`${base}/api/stacks/random/archive`, { signal: controller.signal })
  let bytes = 0
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.length
      const elapsed = (performance.now() - start) / 1000
      if (elapsed > seconds) break
      if (bytesPerSecond) {
        const ahead = bytes / bytesPerSecond - elapsed
        if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead * 1000))
      }
    }
  } finally {
    controller.abort()
  }
  return { bytes, seconds: (performance.now() - start) / 1000, growth: memory.stop().growth }
}

const rows: string[] = []
for (let run = 1; run <= runs; run++) {
  const fast = await download()
  rows.push(
    `| fast client, run ${run} | ${mib(fast.bytes)} MiB in ${fast.seconds.toFixed(1)} s | ${mib(fast.growth)} MiB |`,
  )
}
const slow = await download(slowMbps * 2 ** 20, slowSeconds)
rows.push(
  `| ${slowMbps} MiB/s client, ${slowSeconds} s | ${mib(slow.bytes)} MiB | ${mib(slow.growth)} MiB |`,
)
await service.stop()
await server.close()
console.log(
  `Archive of ${archiveMb} MB of random bytes (${files} files), service peak RSS growth:\n`,
)
console.log('| download | streamed | peak RSS growth |\n|---|---|---|')
for (const row of rows) console.log(row)
process.exit(0)
