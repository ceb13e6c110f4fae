// Notification benchmark (not a test), on the real engine with the tiny test
// image: does telling people cost a deploy anything? A one-service stack is
// changed BENCH_ROUNDS (7) times and synced by hand each time (POST
// /api/stacks/{name}/sync?wait=true after the refresh that brought the
// change; SYNC_MODE=detect, so nothing else deploys it), in three setups,
// each its own docker-cd:
//   none:    no NOTIFY_URLS;
//   live:    NOTIFY_ON=all and one generic receiver on loopback that answers
//            at once: every deploy is a `deployed` message; also timed, from
//            the sync's answer to the message's arrival;
//   silent:  NOTIFY_ON=all and one receiver that never answers (each message
//            waits its 10 s timeout and three retries, so messages queue up
//            behind each other for the whole run).
// Printed: each setup's median, minimum and maximum sync time, and the live
// receiver's delivery latency.
//
//   npm run bench:notify
//   BENCH_ROUNDS=15 npm run bench:notify
import { buildApp, startApp } from '../app.js'
import { loadConfig } from '../services/base/config.js'
import { ensureTestImage, removeProject } from '../test/helpers/docker.js'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { startReceiver } from '../test/helpers/notify-receiver.js'
import { tempDir } from '../test/helpers/temp-dir.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const image = ensureTestImage()
const server = await startGitServer({ token: 'bench-notify-token' })
const live = await startReceiver()
const silent = await startReceiver(() => 'hang')

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}
const ms = (value: number) => `${value.toFixed(0)} ms`

async function run(setup: 'none' | 'live' | 'silent') {
  const stack = `bench-notify-${setup}-${process.pid}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  const compose = (round: number) =>
    `services:\n  app:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    environment:\n      ROUND: "${round}"\n`
  repo.writeFile(`${stack}/compose.yaml`, compose(0)).commitAndPush('round 0')
  const receiver = setup === 'live' ? live : setup === 'silent' ? silent : undefined
  const app = await buildApp({
    config: loadConfig({
      GIT_REPO_URL: repo.url,
      GIT_REVISION: 'main',
      GIT_ACCESS_TOKEN: server.token,
      GIT_SSL_CAINFO: server.caFile,
      GIT_CACHE_DIR: tempDir('bench-notify-cache-'),
      STACKS_DIR: tempDir('bench-notify-stacks-'),
      REFRESH_POLL_INTERVAL: '0',
      SYNC_MODE: 'detect',
      API_TOKEN: 'bench-notify-api-token-0123456789',
      LOG_LEVEL: 'silent',
      ...(receiver ? { NOTIFY_URLS: `generic+${receiver.url}/${setup}`, NOTIFY_ON: 'all' } : {}),
    }),
  })
  await startApp(app)
  const sync = async () => {
    const res = await app.inject({
      method: 'POST',
      url: `/api/stacks/${stack}/sync?wait=true`,
      headers: { authorization: 'Bearer bench-notify-api-token-0123456789' },
    })
    if (res.json().status !== 'completed') throw new Error(`sync failed: ${res.body}`)
  }
  await sync() // the first deploy: not timed
  const times: number[] = []
  const latencies: number[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    repo.writeFile(`${stack}/compose.yaml`, compose(round)).commitAndPush(`round ${round}`)
    await app.desiredState.refresh('manual').done
    const before = receiver?.requests.length ?? 0
    const start = performance.now()
    await sync()
    const done = performance.now()
    times.push(done - start)
    if (setup === 'live') {
      while (live.requests.length <= before) await new Promise((r) => setTimeout(r, 1))
      latencies.push((live.requests.at(-1)?.at ?? 0) - (performance.timeOrigin + done))
    }
  }
  const closing = performance.now()
  await app.close()
  const closeMs = performance.now() - closing
  removeProject(stack)
  return { setup, times, latencies, closeMs }
}

const results = []
for (const setup of ['none', 'live', 'silent'] as const) results.push(await run(setup))
await Promise.all([live.close(), silent.close(), server.close()])

console.log(`sync of a one-service stack, ${ROUNDS} rounds per setup`)
for (const { setup, times, latencies, closeMs } of results) {
  console.log(
    `  ${setup.padEnd(7)} median ${ms(median(times))}  min ${ms(Math.min(...times))}  max ${ms(Math.max(...times))}  shutdown ${ms(closeMs)}${
      latencies.length > 0 ? `  message after the answer: median ${ms(median(latencies))}` : ''
    }`,
  )
}
