// Sync benchmark (not a test), on the real engine with the tiny test image.
// BENCH_CASES picks the cases (comma-separated; default
// `overhead,mounted,changed,cold`; `BENCH_CASES=cold` runs the cold deploy alone):
//
//  overhead: a one-service stack changed BENCH_ROUNDS times, applied by a
//     bare `docker compose up -d --remove-orphans --wait` in a directory of
//     its own, and by docker-cd (POST /api/stacks/{name}/sync?wait=true
//     after the refresh that brought the change; SYNC_MODE=detect, so
//     nothing else deploys it): medians side by side. The service
//     bind-mounts a file that does not change, so docker-cd's comparison of
//     the deployed and the new tree (git diff-tree) runs in every round;
//  mounted: the same, but only the bind-mounted file changes each round:
//     bare `docker compose up -d --force-recreate --wait` (what an operator
//     must run by hand for it) beside docker-cd's sync (`up`, which changes
//     nothing, then the service renewed);
//  secrets (opt-in): a one-service stack whose `env_file` changes each
//     round, synced by docker-cd twice: the file in plaintext, and the same
//     file SOPS-encrypted for an age key (decrypted into SECRETS_DIR, a
//     tmpfs under /dev/shm): the medians side by side;
//  changed: BENCH_STACKS (200) stacks deployed, SYNC_MODE=apply: a commit
//     changing one of them, announced by a signed webhook → that stack
//     `synced` on the SSE feed (BENCH_ROUNDS rounds, p50/p95), with the
//     number of `up` runs it took and the refresh's own duration;
//  cold: BENCH_COLD_STACKS (20) one-service stacks from an empty host to
//     every one `synced` and `healthy`: N sequential bare `docker compose up
//     -d --remove-orphans --wait` (each in a directory of its own, the same
//     file), then docker-cd with SYNC_MODE=apply started on a repository
//     holding the N stacks, timed from its process start (and from the end
//     of its startup refresh) to every stack `synced` + `healthy` on GET
//     /api/stacks (polled every 50 ms). Once per BENCH_COLD_CONCURRENCY
//     setting (default `default,1`: SYNC_CONCURRENCY unset, then
//     SYNC_CONCURRENCY=1), each beside a bare run of its own, repeated
//     BENCH_COLD_ROUNDS (1) times; every project is removed between runs;
//  bare-parallel (opt-in): the same N bare `up --wait`, BENCH_BARE_WIDTHS
//     (1,2,4,8) at a time: what parallelism the machine gives Compose; and
//     at the same widths, docker-cd's Compose calls run by this file (an
//     emulation without docker-cd: today's set, a trimmed set, the trimmed
//     set without `--wait`), to price each cut before it is made;
//  swarm (opt-in): a one-service stack of 2 replicas on a real two-node
//     swarm (two private engines, test/helpers/swarm.ts; never the
//     machine's own engine), its `environment` changed each round: a bare
//     `docker stack deploy` followed by `docker service ps` polled (no
//     pause between polls) until both slots run new tasks, beside
//     docker-cd's manual sync (SYNC_TARGET=swarm: stack config check,
//     `docker stack deploy`, the rollout watched through the Engine API,
//     read-back), rounds interleaved so both sides share the load. Opt-in:
//     it starts two dockerd of its own (root, a docker CLI 23+);
//  steps (opt-in): where docker-cd's time goes in a cold deploy of
//     BENCH_STEPS_STACKS (1) stacks, BENCH_STEPS_ROUNDS (5) times, with
//     SYNC_CONCURRENCY=BENCH_STEPS_CONCURRENCY (unset by default): every
//     Compose process (a timing wrapper installed as the Compose plugin in
//     the service's own HOME, which docker-cd looks in first) and every
//     Engine API call (a logging proxy in front of the engine socket, given
//     as DOCKER_HOST: the service's calls and Compose's), from the startup
//     refresh's end to `synced`.
//
//   npm run bench:sync
//   BENCH_STACKS=50 BENCH_ROUNDS=5 npm run bench:sync
//   BENCH_CASES=cold npm run bench:sync
//   BENCH_CASES=bare-parallel,steps npm run bench:sync
//   BENCH_CASES=swarm BENCH_ROUNDS=10 npm run bench:sync
//
// Every project this file creates is named bench-sync-… (overhead,
// changed), bench-cold-… (the others) or bn-swarm-… (swarm, on its own
// engines), and removed at the end.
import { execFile, execFileSync } from 'node:child_process'
import {
  accessSync,
  chmodSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { EventSource } from 'eventsource'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../test/helpers/docker.js'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { type GitServer, startGitServer } from '../test/helpers/git-server.js'
import { sendPush } from '../test/helpers/github.js'
import { HOST_NETWORK, startSwarm, swarmUnavailable } from '../test/helpers/swarm.js'
import { tempDir } from '../test/helpers/temp-dir.js'
import { startBuiltService } from './built-service.js'

const run = promisify(execFile)
const TOKEN = 'bench-token-sync'
const API_TOKEN = 'bench-api-token-sync-0123'
const SECRET = 'bench-webhook-secret'
const KNOWN_CASES = [
  'overhead',
  'mounted',
  'changed',
  'cold',
  'bare-parallel',
  'steps',
  'secrets',
  'swarm',
]
const cases = new Set(
  (process.env.BENCH_CASES ?? 'overhead,mounted,changed,cold')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean),
)
for (const name of cases)
  if (!KNOWN_CASES.includes(name)) {
    process.stderr.write(`BENCH_CASES: unknown case ${name} (known: ${KNOWN_CASES.join(', ')})\n`)
    process.exit(1)
  }
const count = Number(process.env.BENCH_STACKS ?? 200)
const rounds = Number(process.env.BENCH_ROUNDS ?? 10)
const coldCount = Number(process.env.BENCH_COLD_STACKS ?? 20)
const coldRounds = Number(process.env.BENCH_COLD_ROUNDS ?? 1)
/** `default` = SYNC_CONCURRENCY unset; a number = SYNC_CONCURRENCY=<n>. */
const coldSettings = (process.env.BENCH_COLD_CONCURRENCY ?? 'default,1')
  .split(',')
  .map((value) => value.trim())
  .filter(Boolean)
const bareWidths = (process.env.BENCH_BARE_WIDTHS ?? '1,2,4,8').split(',').map(Number)
const stepsCount = Number(process.env.BENCH_STEPS_STACKS ?? 1)
const stepsRounds = Number(process.env.BENCH_STEPS_ROUNDS ?? 5)
const unavailable = hostUnavailable()
if (unavailable) {
  process.stderr.write(`bench:sync needs the host: ${unavailable}\n`)
  process.exit(1)
}
const noSwarm = cases.has('swarm') ? swarmUnavailable() : undefined
if (noSwarm) {
  process.stderr.write(`BENCH_CASES=swarm needs a docker CLI that deploys stacks: ${noSwarm}\n`)
  process.exit(1)
}
if ((cases.has('cold') || cases.has('bare-parallel')) && coldCount < 20)
  process.stderr.write(
    `BENCH_COLD_STACKS=${coldCount}: below 20, concurrency barely shows; not a number to report\n`,
  )
const image = ensureTestImage()
const stackFile = (round: number) =>
  `services:\n  app:\n    image: ${image}\n    command: ["sleep", "86400"]\n    network_mode: none\n    stop_grace_period: 1s\n    environment:\n      ROUND: "${round}"\n`
const names = Array.from({ length: count }, (_, i) => `bench-sync-${String(i).padStart(3, '0')}`)
/** With a bind-mounted `app.conf` (overhead, mounted): its diff runs in every deploy. */
const mountingFile = (round: number) =>
  `${stackFile(round)}    volumes:\n      - ./app.conf:/app.conf:ro\n`
const one = 'bench-sync-one'
const bare = 'bench-sync-bare'
const mountedOne = 'bench-sync-mounted'
const secretOnes = ['bench-sync-plain-env', 'bench-sync-sops-env']
const mountedBare = 'bench-sync-mounted-bare'
/** Every project of the cold, bare-parallel and steps cases starts with this. */
const COLD_PREFIX = 'bench-cold-'

/** Removes every container and network of the Compose projects whose name starts with `prefix`. */
function removeProjects(prefix: string) {
  for (const kind of ['container', 'network'] as const) {
    const listed = docker(
      ...(kind === 'container' ? ['ps', '-a'] : ['network', 'ls']),
      '--filter',
      'label=com.docker.compose.project',
      '--format',
      '{{.ID}} {{.Label "com.docker.compose.project"}}',
    )
    const ids = listed
      .split('\n')
      .map((line) => line.split(' '))
      .filter(([id, project]) => id && project?.startsWith(prefix))
      .map(([id]) => id as string)
    if (ids.length > 0) docker(...(kind === 'container' ? ['rm', '-f'] : ['network', 'rm']), ...ids)
  }
}
let cleaned = false
const cleanup = () => {
  if (cleaned) return
  cleaned = true
  if (cases.has('overhead')) for (const name of [one, bare]) removeProject(name)
  if (cases.has('mounted')) for (const name of [mountedOne, mountedBare]) removeProject(name)
  if (cases.has('secrets')) for (const name of secretOnes) removeProject(name)
  if (cases.has('changed')) for (const name of names) removeProject(name)
  removeProjects(COLD_PREFIX)
}
process.on('exit', cleanup)
const auth = { authorization: `Bearer ${API_TOKEN}` }
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const server = await startGitServer({ token: TOKEN })
const report: string[] = []

/** What a sync case asks of a started service about one stack. */
function stackCalls(base: string, stack: string) {
  const post = (path: string) =>
    fetch(`${base}${path}`, { method: 'POST', headers: auth }).then((r) => r.json())
  return {
    post,
    /** The stack's status now. */
    status: async () =>
      (
        (await (await fetch(`${base}/api/stacks/${stack}`, { headers: auth })).json()) as {
          status: string
        }
      ).status,
    /** A manual sync, waited for: its duration in ms (a failed one throws). */
    async sync() {
      const started = performance.now()
      const answer = (await post(`/api/stacks/${stack}/sync?wait=true`)) as { status: string }
      if (answer.status !== 'completed') throw new Error(`sync failed: ${JSON.stringify(answer)}`)
      return performance.now() - started
    },
  }
}

// overhead and mounted: docker-cd beside a bare `docker compose up`.
async function overheadCase(server: GitServer, kind: 'overhead' | 'mounted') {
  const [stack, bareName] = kind === 'overhead' ? [one, bare] : [mountedOne, mountedBare]
  // overhead: the environment changes; mounted: only the mounted file does.
  const files = (round: number) => ({
    'compose.yaml': mountingFile(kind === 'overhead' ? round : 0),
    'app.conf': `conf ${kind === 'mounted' ? round : 0}\n`,
  })
  const bareDir = join(tempDir('docker-cd-bench-bare-'), bareName)
  mkdirSync(bareDir)
  const bareUp = ['compose', 'up', '-d', '--remove-orphans', '--wait']
  if (kind === 'mounted') bareUp.push('--force-recreate')
  const bareTimes: number[] = []
  for (let round = 0; round <= rounds; round++) {
    for (const [file, text] of Object.entries(files(round)))
      writeFileSync(join(bareDir, file), text)
    const started = performance.now()
    await run('docker', bareUp, { cwd: bareDir })
    if (round > 0) bareTimes.push(performance.now() - started) // round 0 creates; the rest recreate
  }
  const oneRepo = createFixtureRepo(server, { stacks: 0 })
  const commit = (round: number, message: string) => {
    for (const [file, text] of Object.entries(files(round)))
      oneRepo.writeFile(`${stack}/${file}`, text)
    oneRepo.commitAndPush(message)
  }
  commit(0, 'one stack')
  const detect = await startBuiltService({
    server,
    repoUrl: oneRepo.url,
    token: TOKEN,
    env: {
      SYNC_MODE: 'detect',
      API_TOKEN,
      STACKS_DIR: join(tempDir('docker-cd-bench-stacks-'), 's'),
    },
  })
  const post = (base: string, path: string) =>
    fetch(`${base}${path}`, { method: 'POST', headers: auth }).then((r) => r.json())
  const statusIn = async (base: string, name: string) =>
    (
      (await (await fetch(`${base}/api/stacks/${name}`, { headers: auth })).json()) as {
        status: string
      }
    ).status
  await post(detect.base, `/api/stacks/${stack}/sync?wait=true`) // round 0: creates
  const syncTimes: number[] = []
  for (let round = 1; round <= rounds; round++) {
    commit(round, `round ${round}`)
    await post(detect.base, '/api/refresh?wait=true')
    while ((await statusIn(detect.base, stack)) !== 'out_of_sync') await sleep(20)
    const started = performance.now()
    const answer = (await post(detect.base, `/api/stacks/${stack}/sync?wait=true`)) as {
      status: string
    }
    if (answer.status !== 'completed') throw new Error(`sync failed: ${JSON.stringify(answer)}`)
    syncTimes.push(performance.now() - started)
  }
  await detect.stop()
  const bareMedian = median(bareTimes)
  const syncMedian = median(syncTimes)
  report.push(
    kind === 'overhead'
      ? `one-service stack, recreate: bare docker compose up -d --wait median ${bareMedian.toFixed(0)} ms; docker-cd sync median ${syncMedian.toFixed(0)} ms (${(syncMedian / bareMedian).toFixed(2)}×: validate + pull check + tree diff + up + read-back)`
      : `one-service stack, only its bind-mounted file changed: bare docker compose up -d --force-recreate --wait median ${bareMedian.toFixed(0)} ms; docker-cd sync median ${syncMedian.toFixed(0)} ms (${(syncMedian / bareMedian).toFixed(2)}×: validate + pull check + tree diff + up + renew + read-back)`,
  )
  return bareMedian
}

// secrets: the same stack with its env_file in plaintext, then SOPS-encrypted.
async function secretsCase(server: GitServer) {
  const { generateX25519Identity, identityToRecipient } = await import('age-encryption')
  const { encryptSops } = await import('../test/helpers/sops-encrypt.js')
  const identity = await generateX25519Identity()
  const recipient = await identityToRecipient(identity)
  const secretsDir = mkdtempSync('/dev/shm/docker-cd-bench-secrets-')
  const medians: number[] = []
  for (const [index, name] of secretOnes.entries()) {
    const encrypted = index === 1
    const envFile = async (round: number) => {
      const plain = `ROUND=${round}\nDB_PASSWORD=bench-password-${round}\nAPI_KEY=bench-key-${round}\n`
      return encrypted
        ? (await encryptSops(plain, 'dotenv', { recipients: [recipient] })).text
        : plain
    }
    const repo = createFixtureRepo(server, { stacks: 0 })
    const commit = async (round: number, message: string) => {
      repo
        .writeFile(`${name}/compose.yaml`, `${stackFile(0)}    env_file: app.env\n`)
        .writeFile(`${name}/app.env`, await envFile(round))
        .commitAndPush(message)
    }
    await commit(0, 'one stack')
    const service = await startBuiltService({
      server,
      repoUrl: repo.url,
      token: TOKEN,
      env: {
        SYNC_MODE: 'detect',
        API_TOKEN,
        STACKS_DIR: join(tempDir('docker-cd-bench-stacks-'), 's'),
        ...(encrypted ? { SOPS_AGE_KEY: identity, SECRETS_DIR: secretsDir } : {}),
      },
    })
    const { post, status, sync } = stackCalls(service.base, name)
    await sync()
    const times: number[] = []
    for (let round = 1; round <= rounds; round++) {
      await commit(round, `round ${round}`)
      await post('/api/refresh?wait=true')
      while ((await status()) !== 'out_of_sync') await sleep(20)
      times.push(await sync())
    }
    await service.stop()
    medians.push(median(times))
  }
  rmSync(secretsDir, { recursive: true, force: true })
  const [plain = 0, sops = 0] = medians
  report.push(
    `one-service stack, its env_file changed: docker-cd sync median ${plain.toFixed(0)} ms in plaintext, ${sops.toFixed(0)} ms SOPS-encrypted (${(sops / plain).toFixed(2)}×)`,
  )
}

// changed: one change among `count` deployed stacks, announced by a webhook.
async function changedCase(server: GitServer, bareMedian: number | undefined) {
  const repo = createFixtureRepo(server, { stacks: 0 })
  for (const name of names) repo.writeFile(`${name}/compose.yaml`, stackFile(0))
  repo.commitAndPush(`${count} stacks`)
  // Deployed by hand in the directories docker-cd's work trees will be (the
  // same files): docker-cd finds them in sync, records them and runs no `up`.
  const stacksDir = join(tempDir('docker-cd-bench-stacks-'), 'stacks')
  process.stderr.write(`deploying ${count} stacks by hand…\n`)
  let next = 0
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < names.length) {
        const name = names[next++] as string
        mkdirSync(join(stacksDir, name), { recursive: true })
        writeFileSync(join(stacksDir, name, 'compose.yaml'), stackFile(0))
        await run('docker', ['compose', 'up', '-d'], { cwd: join(stacksDir, name) })
      }
    }),
  )
  const apply = await startBuiltService({
    server,
    repoUrl: repo.url,
    token: TOKEN,
    env: { SYNC_MODE: 'apply', API_TOKEN, WEBHOOK_SECRET: SECRET, STACKS_DIR: stacksDir },
  })
  type Listed = { path: string; status: string }
  const allSynced = async () => {
    const stacks = (await (
      await fetch(`${apply.base}/api/stacks`, { headers: auth })
    ).json()) as Listed[]
    return stacks.length === count && stacks.every((stack) => stack.status === 'synced')
  }
  while (!(await allSynced())) await sleep(100)
  const upsAtStart = (await composeRuns(apply.base)).up ?? 0
  const events = new EventSource(`${apply.base}/api/events`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...auth } }),
  })
  const waiters = new Map<string, (data: Record<string, unknown>) => void>()
  events.addEventListener('stack-status', (event) => {
    const data = JSON.parse(event.data) as { path: string; to: string }
    waiters.get(`${data.path} ${data.to}`)?.(data)
  })
  const refreshTimes: number[] = []
  events.addEventListener('refresh', (event) => {
    const data = JSON.parse(event.data) as { startedAt: string; finishedAt: string }
    refreshTimes.push(Date.parse(data.finishedAt) - Date.parse(data.startedAt))
  })
  await new Promise((resolve) => events.addEventListener('open', resolve))
  const latencies: number[] = []
  const upsPerRound: number[] = []
  for (let round = 1; round <= rounds; round++) {
    const name = names[(round * 37) % count] as string
    const after = repo
      .writeFile(`${name}/compose.yaml`, stackFile(round))
      .commitAndPush(`change ${name}`)
    const before = (await composeRuns(apply.base)).up ?? 0
    const synced = new Promise((resolve) => waiters.set(`${name} synced`, resolve))
    const started = performance.now()
    await sendPush(apply.base, after, SECRET)
    await synced
    latencies.push(performance.now() - started)
    upsPerRound.push(((await composeRuns(apply.base)).up ?? 0) - before)
  }
  events.close()
  await apply.stop()
  const refreshMedian = median(refreshTimes)
  report.push(
    `${count} stacks deployed, start: ${upsAtStart} up runs (found in sync)`,
    `1 of ${count} changed, webhook → synced: p50 ${pct(latencies, 50).toFixed(0)} ms, p95 ${pct(latencies, 95).toFixed(0)} ms; up runs per change: ${[...new Set(upsPerRound)].join(', ')}; refresh median ${refreshMedian.toFixed(0)} ms${bareMedian ? `; ratio to (bare up + refresh): ${(median(latencies) / (bareMedian + refreshMedian)).toFixed(2)}×` : ''}`,
  )
}

/** docker_cd_compose_runs_total by what was asked. */
async function composeRuns(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text()
  return Object.fromEntries(
    [...text.matchAll(/^docker_cd_compose_runs_total\{asked="(\w+)"\} (\d+)$/gm)].map((m) => [
      m[1] as string,
      Number(m[2]),
    ]),
  )
}

/** The N stack directories of a bare run, each holding the same Compose file as docker-cd's. */
function bareDirs(n: number): string[] {
  const root = tempDir('docker-cd-bench-cold-bare-')
  return Array.from({ length: n }, (_, i) => {
    const dir = join(root, `${COLD_PREFIX}bare-${String(i).padStart(3, '0')}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'compose.yaml'), stackFile(0))
    return dir
  })
}

/** `work` for each item, `width` at a time. */
async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<unknown>) {
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = items[next++]; item !== undefined; item = items[next++]) await work(item)
    }),
  )
}

const UP = ['up', '-d', '--remove-orphans', '--wait']

/** `docker compose up -d --remove-orphans --wait` in each directory, `width` at a time: the wall time. */
async function bareUps(dirs: readonly string[], width: number): Promise<number> {
  const started = performance.now()
  await pool(dirs, width, (dir) => run('docker', ['compose', ...UP], { cwd: dir }))
  const wall = performance.now() - started
  removeProjects(COLD_PREFIX)
  return wall
}

type Listed = { path: string; status: string; health?: string }

/**
 * Starts docker-cd (SYNC_MODE=apply, an empty STACKS_DIR) on `repoUrl` and
 * polls GET /api/stacks every `pollMs` until all `n` stacks are `synced`
 * and `healthy`; every time is in ms from the process start. Stops it and
 * removes what it deployed.
 */
async function coldDeploy(
  repoUrl: string,
  n: number,
  env: Record<string, string>,
  pollMs = 50,
  afterStart?: (service: { base: string; startedAt: number }) => void,
  /** How long the service keeps running after the last stack is synced (to see what it still does). */
  lingerMs = 0,
  logFile?: string,
) {
  const stacksDir = join(tempDir('docker-cd-bench-stacks-'), 'stacks')
  const service = await startBuiltService({
    server,
    repoUrl,
    token: TOKEN,
    env: { SYNC_MODE: 'apply', API_TOKEN, STACKS_DIR: stacksDir, ...env },
    ...(logFile ? { logFile } : {}),
  })
  const t0 = service.startedAt
  afterStart?.(service)
  try {
    const refreshStatus = (await (
      await fetch(`${service.base}/api/refresh-status`, { headers: auth })
    ).json()) as { refreshedAt: string }
    const refreshed = Date.parse(refreshStatus.refreshedAt) - t0
    const firstSyncing = new Map<string, number>()
    const synced = new Map<string, number>()
    const deadline = Date.now() + 60_000 + n * 30_000
    let last: Listed[] = []
    while (synced.size < n) {
      if (Date.now() > deadline)
        throw new Error(
          `cold deploy: not every stack synced in time: ${JSON.stringify(last.filter((s) => !synced.has(s.path)))}`,
        )
      last = (await (
        await fetch(`${service.base}/api/stacks`, { headers: auth })
      ).json()) as Listed[]
      const at = Date.now() - t0
      for (const stack of last) {
        if (stack.status === 'syncing' && !firstSyncing.has(stack.path))
          firstSyncing.set(stack.path, at)
        if (stack.status === 'synced' && stack.health === 'healthy' && !synced.has(stack.path))
          synced.set(stack.path, at)
      }
      if (synced.size < n) await sleep(pollMs)
    }
    const runs = await composeRuns(service.base)
    const metrics = await (await fetch(`${service.base}/metrics`)).text()
    const durationSum = Number(/^docker_cd_sync_duration_seconds_sum (\S+)$/m.exec(metrics)?.[1])
    const durationCount = Number(
      /^docker_cd_sync_duration_seconds_count (\S+)$/m.exec(metrics)?.[1],
    )
    const total = Math.max(...synced.values())
    await sleep(lingerMs)
    return {
      ready: service.readyAt - t0,
      refreshed,
      firstDeploy: Math.min(...firstSyncing.values()),
      firstSynced: Math.min(...synced.values()),
      total,
      afterRefresh: total - refreshed,
      runs,
      meanSyncRun: (durationSum / durationCount) * 1000,
    }
  } finally {
    await service.stop()
    removeProjects(COLD_PREFIX)
  }
}

// cold: N stacks from an empty host, docker-cd beside N sequential bare `up`s.
async function coldCase(server: GitServer) {
  removeProjects(COLD_PREFIX)
  const repo = createFixtureRepo(server, { stacks: 0 })
  for (let i = 0; i < coldCount; i++)
    repo.writeFile(`${COLD_PREFIX}${String(i).padStart(3, '0')}/compose.yaml`, stackFile(0))
  repo.commitAndPush(`${coldCount} stacks`)
  const dirs = bareDirs(coldCount)
  type Result = Awaited<ReturnType<typeof coldDeploy>> & { bare: number }
  const results = new Map<string, Result[]>(coldSettings.map((setting) => [setting, []]))
  for (let round = 1; round <= coldRounds; round++)
    for (const setting of coldSettings) {
      process.stderr.write(`cold, round ${round}, ${coldCount} bare up…\n`)
      const bareWall = await bareUps(dirs, 1)
      process.stderr.write(`cold, round ${round}, docker-cd (SYNC_CONCURRENCY=${setting})…\n`)
      const env: Record<string, string> = setting === 'default' ? {} : { SYNC_CONCURRENCY: setting }
      const result = await coldDeploy(repo.url, coldCount, env)
      process.stderr.write(
        `  bare ${seconds(bareWall)}, docker-cd ${seconds(result.total)} (${seconds(result.afterRefresh)} after the refresh)\n`,
      )
      results.get(setting)?.push({ ...result, bare: bareWall })
    }
  report.push(
    `cold deploy of ${coldCount} one-service stacks, empty host → all synced + healthy (${coldRounds} round${coldRounds === 1 ? '' : 's'}; medians):`,
  )
  for (const [setting, all] of results) {
    const m = (pick: (r: Result) => number) => median(all.map(pick))
    const ratio = (pick: (r: Result) => number) => median(all.map((r) => pick(r) / r.bare))
    const runs = all.at(-1)?.runs ?? {}
    report.push(
      `  SYNC_CONCURRENCY=${setting === 'default' ? 'unset (default)' : setting}: bare sequential ${seconds(m((r) => r.bare))}; docker-cd from process start ${seconds(m((r) => r.total))} (${ratio((r) => r.total).toFixed(2)}×), from the startup refresh's end ${seconds(m((r) => r.afterRefresh))} (${ratio((r) => r.afterRefresh).toFixed(2)}×)`,
      `    ready ${m((r) => r.ready).toFixed(0)} ms, refresh end ${m((r) => r.refreshed).toFixed(0)} ms, first deploy ${m((r) => r.firstDeploy).toFixed(0)} ms, first synced ${m((r) => r.firstSynced).toFixed(0)} ms after process start; sync run mean ${m((r) => r.meanSyncRun).toFixed(0)} ms; Compose runs: ${Object.entries(
        runs,
      )
        .map(([asked, n]) => `${asked} ${n}`)
        .join(', ')}`,
    )
  }
}

// bare-parallel: how much parallelism this machine gives bare Compose, and
// what docker-cd's own Compose calls cost at each width (an emulation: the
// same Compose processes in the same order, run by this file with the
// plugin binary as docker-cd runs it, without docker-cd itself).
async function bareParallelCase() {
  removeProjects(COLD_PREFIX)
  const dirs = bareDirs(coldCount)
  const plugin = realPlugin()
  const compose = (dir: string, args: string[]) =>
    plugin ? run(plugin, args, { cwd: dir }) : run('docker', ['compose', ...args], { cwd: dir })
  const MODEL = ['config', '--format', 'json']
  const VALIDATE = ['config', '-q']
  const PLAN = ['--dry-run', 'up', '-d', '--remove-orphans']
  type Variant = {
    name: string
    /** Run for every stack before any deploy (docker-cd's first picture), this many at a time. */
    first?: { args: string[]; width: (deployWidth: number) => number }
    each: (dir: string) => Promise<unknown>
  }
  const variants: Variant[] = [
    {
      name: 'bare `docker compose up -d --remove-orphans --wait`',
      each: (dir) => run('docker', ['compose', ...UP], { cwd: dir }),
    },
    {
      name: "docker-cd's Compose calls today: model of every stack (2 at a time), then per stack config -q, up --wait, 2× dry-run",
      first: { args: MODEL, width: () => 2 },
      each: async (dir) => {
        for (const args of [VALIDATE, UP, PLAN, PLAN]) await compose(dir, args)
      },
    },
    {
      name: 'trimmed: model of every stack (W at a time), then per stack up --wait, 1 dry-run',
      first: { args: MODEL, width: (width) => width },
      each: async (dir) => {
        for (const args of [UP, PLAN]) await compose(dir, args)
      },
    },
    {
      name: 'trimmed, and `up -d` without --wait (a read-back as the wait: no 500 ms poll tick)',
      first: { args: MODEL, width: (width) => width },
      each: async (dir) => {
        for (const args of [['up', '-d', '--remove-orphans'], PLAN]) await compose(dir, args)
      },
    },
  ]
  report.push(`${coldCount} one-service stacks, empty host → all up, W at a time (wall time):`)
  let serialBare = 0
  for (const variant of variants) {
    const walls: string[] = []
    for (const width of bareWidths) {
      process.stderr.write(`bare-parallel, ${variant.name.slice(0, 40)}…, ${width} at a time\n`)
      const started = performance.now()
      if (variant.first) {
        const { args } = variant.first
        await pool(dirs, variant.first.width(width), (dir) => compose(dir, args))
      }
      await pool(dirs, width, variant.each)
      const wall = performance.now() - started
      removeProjects(COLD_PREFIX)
      if (serialBare === 0) serialBare = wall
      walls.push(`W=${width} ${seconds(wall)} (${(wall / serialBare).toFixed(2)}×)`)
    }
    report.push(`  ${variant.name}: ${walls.join('; ')}`)
  }
  report.push(`  (× = of the first line's W=${bareWidths[0]}: the bare sequential run)`)
}

/** The real Compose plugin, where the docker CLI finds it (HOME's own excepted). */
function realPlugin(): string | undefined {
  for (const dir of [
    '/usr/local/lib/docker/cli-plugins',
    '/usr/local/libexec/docker/cli-plugins',
    '/usr/lib/docker/cli-plugins',
    '/usr/libexec/docker/cli-plugins',
  ]) {
    try {
      accessSync(join(dir, 'docker-compose'), constants.X_OK)
      return join(dir, 'docker-compose')
    } catch {}
  }
  return undefined
}

type EngineCall = {
  start: number
  answered?: number
  method: string
  path: string
  agent: string
  from: 'compose' | 'docker-cd'
}
/** Epoch ms with sub-millisecond precision. */
const preciseNow = () => performance.timeOrigin + performance.now()

/**
 * A unix socket in front of the engine's that logs every request (method,
 * path, who sent it by User-Agent) with when it was sent and when the
 * answer's first bytes came back (epoch ms). One request at a time per
 * connection, as both clients here send them.
 */
async function engineProxy(upstream: string) {
  const path = join(tempDir('docker-cd-bench-proxy-'), 'docker.sock')
  const calls: EngineCall[] = []
  const proxy = createServer((client) => {
    const engine = createConnection(upstream)
    const waiting: EngineCall[] = []
    client.on('data', (chunk: Buffer) => {
      const head = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/.exec(chunk.toString('latin1', 0, 2048))
      if (head) {
        const agent = /\r\nUser-Agent: ([^\r]*)/i.exec(chunk.toString('latin1', 0, 4096))?.[1]
        const call: EngineCall = {
          start: preciseNow(),
          method: head[1] as string,
          path: head[2] as string,
          agent: agent ?? 'none',
          // The service's client (undici) sends no User-Agent; Compose's Go clients do.
          from: agent === undefined || /^(node|undici)/i.test(agent) ? 'docker-cd' : 'compose',
        }
        calls.push(call)
        waiting.push(call)
      }
      engine.write(chunk)
    })
    engine.on('data', (chunk: Buffer) => {
      if (chunk.toString('latin1', 0, 7) === 'HTTP/1.') {
        const call = waiting.shift()
        if (call) call.answered = preciseNow()
      }
      client.write(chunk)
    })
    client.on('end', () => engine.end())
    engine.on('end', () => client.end())
    client.on('error', () => engine.destroy())
    engine.on('error', () => client.destroy())
  })
  await new Promise<void>((resolve) => proxy.listen(path, resolve))
  return { path, calls, close: () => proxy.close() }
}

/** What a Compose command line was asked, in docker-cd's words (compose.ts). */
const askedOf = (args: string) =>
  /--dry-run up/.test(args)
    ? 'plan'
    : /^config --format json/.test(args)
      ? 'model'
      : /^config -q/.test(args)
        ? 'validate'
        : /^up /.test(args)
          ? 'up'
          : (args.split(' ')[0] ?? args)

/** An engine path in words: the endpoint, ids and filters left out. */
const endpointOf = (call: EngineCall) =>
  `${call.method} ${call.path
    .replace(/^\/v[\d.]+/, '')
    .replace(/\?.*$/, '')
    .replace(/\/containers\/[0-9a-f]{12,}/, '/containers/{id}')
    .replace(/\/images\/.+\/json$/, '/images/{name}/json')}`

// steps: every Compose process and Engine call of a cold deploy, timed.
async function stepsCase(server: GitServer) {
  const real = realPlugin()
  if (!real) {
    report.push('steps: skipped (the Compose plugin binary is not where the docker CLI finds it)')
    return
  }
  removeProjects(COLD_PREFIX)
  const home = tempDir('docker-cd-bench-home-')
  const log = join(home, 'processes.log')
  /** The service's own log (info): when it queued, started and finished each deploy. */
  const serviceLog = join(home, 'service.log')
  /** A script in place of `real` that logs what ran, when and how long (a shell and `date` twice: ~3 ms more per run). */
  const timed = (wrapper: string, real: string, tag: string) => {
    mkdirSync(dirname(wrapper), { recursive: true })
    writeFileSync(
      wrapper,
      `#!/bin/sh\ns=$(date +%s%N)\n'${real}' "$@"\nrc=$?\necho "${tag} $s $(date +%s%N) $rc $*" >> '${log}'\nexit $rc\n`,
    )
    chmodSync(wrapper, 0o755)
  }
  timed(join(home, '.docker', 'cli-plugins', 'docker-compose'), real, 'compose')
  // git too (the service finds it on PATH): a deploy keeps its tree with `git update-ref`.
  const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim()
  timed(join(home, 'bin', 'git'), realGit, 'git')
  const upstream = (process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(
    /^unix:\/\//,
    '',
  )
  const proxy = await engineProxy(upstream)
  const repo = createFixtureRepo(server, { stacks: 0 })
  for (let i = 0; i < stepsCount; i++)
    repo.writeFile(`${COLD_PREFIX}s${String(i).padStart(3, '0')}/compose.yaml`, stackFile(0))
  repo.commitAndPush(`${stepsCount} stacks`)
  type Step = { what: string; start: number; ms: number }
  const agents = new Set<string>()
  const perRound: { steps: Step[]; synced: number; refreshed: number }[] = []
  for (let round = 1; round <= stepsRounds; round++) {
    writeFileSync(log, '')
    writeFileSync(serviceLog, '')
    proxy.calls.length = 0
    let t0 = 0
    const result = await coldDeploy(
      repo.url,
      stepsCount,
      {
        HOME: home,
        LOG_LEVEL: 'info',
        ...(process.env.BENCH_STEPS_CONCURRENCY
          ? { SYNC_CONCURRENCY: process.env.BENCH_STEPS_CONCURRENCY }
          : {}),
        PATH: `${join(home, 'bin')}:${process.env.PATH}`,
        DOCKER_HOST: `unix://${proxy.path}`,
      },
      10,
      (service) => {
        t0 = service.startedAt
      },
      1500,
      serviceLog,
    )
    const processes: Step[] = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [tag, start, end, rc, ...args] = line.split(' ')
        const what =
          tag === 'compose' ? askedOf(args.join(' ')) : args.filter((a) => !a.startsWith('-'))[0]
        return {
          what: `${tag} ${what}${rc === '0' ? '' : ` (exit ${rc})`}`,
          start: Number(start) / 1e6 - t0,
          ms: (Number(end) - Number(start)) / 1e6,
        }
      })
    const engine: Step[] = proxy.calls
      .filter((call) => call.from === 'docker-cd' && !call.path.includes('/events'))
      .map((call) => ({
        what: `engine ${endpointOf(call)}`,
        start: call.start - t0,
        ms: (call.answered ?? call.start) - call.start,
      }))
    const composeEngine: Step[] = proxy.calls
      .filter((call) => call.from === 'compose')
      .map((call) => ({
        what: `  (compose → engine) ${endpointOf(call)}`,
        start: call.start - t0,
        ms: (call.answered ?? call.start) - call.start,
      }))
    // From the startup refresh's end; what starts after the last `synced` is marked so.
    const logged: Step[] = readFileSync(serviceLog, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { time: number; msg: string; stack?: string })
      .filter((entry) => entry.stack)
      .map((entry) => ({ what: `  [log] ${entry.msg}`, start: entry.time - t0, ms: 0 }))
    const steps = [...processes, ...engine, ...composeEngine, ...logged]
      .filter((step) => step.start >= result.refreshed - 1)
      .map((step) =>
        step.start > result.total ? { ...step, what: `${step.what} [after synced]` } : step,
      )
      .sort((a, b) => a.start - b.start)
    for (const call of proxy.calls) agents.add(`${call.from}: ${call.agent}`)
    perRound.push({ steps, synced: result.total, refreshed: result.refreshed })
    process.stderr.write(
      `steps, round ${round}: refresh end → all synced ${result.afterRefresh.toFixed(0)} ms\n`,
    )
  }
  proxy.close()
  const lastRound = perRound.at(-1)
  report.push(
    `steps: cold deploy of ${stepsCount} stack${stepsCount === 1 ? '' : 's'} (SYNC_CONCURRENCY ${process.env.BENCH_STEPS_CONCURRENCY ?? 'unset'}), ${stepsRounds} rounds; refresh end → all synced median ${median(perRound.map((r) => r.synced - r.refreshed)).toFixed(0)} ms`,
  )
  // Per step: runs per stack and the median duration over every round.
  const kinds = new Map<string, number[]>()
  for (const { steps } of perRound)
    for (const step of steps)
      if (!step.what.startsWith('  '))
        kinds.set(step.what, [...(kinds.get(step.what) ?? []), step.ms])
  report.push('  step                                        runs/stack  median ms  ms/stack')
  for (const [what, times] of [...kinds].sort((a, b) => a[0].localeCompare(b[0]))) {
    const perStack = times.length / perRound.length / stepsCount
    report.push(
      `  ${what.padEnd(44)}${perStack.toFixed(2).padStart(10)}${median(times).toFixed(1).padStart(11)}${(perStack * median(times)).toFixed(1).padStart(10)}`,
    )
  }
  const composeCalls = perRound.flatMap((r) =>
    r.steps.filter((s) => s.what.startsWith('  (compose')),
  )
  report.push(
    `  Compose's own engine calls: ${(composeCalls.length / perRound.length / stepsCount).toFixed(1)} per stack; clients seen: ${[...agents].join('; ')}`,
  )
  // The first picture: every stack's work tree and model before the first deploy starts.
  const firstPicture = perRound.map(({ steps, refreshed }) => {
    const firstDeploy = steps.find((step) => step.what === 'compose validate')?.start ?? refreshed
    const before = steps.filter((step) => step.start < firstDeploy && !step.what.startsWith('  '))
    return {
      ms: firstDeploy - refreshed,
      models: before.filter((step) => step.what === 'compose model').length,
      git: before.filter((step) => step.what.startsWith('git ')).length,
    }
  })
  report.push(
    `  startup refresh's end → first deploy (its config -q) median ${median(firstPicture.map((f) => f.ms)).toFixed(0)} ms: ${firstPicture[0]?.models} Compose models and ${firstPicture[0]?.git} git processes before it`,
  )
  if (lastRound && stepsCount <= 2) {
    report.push('  timeline of the last round (ms after the startup refresh ended; duration):')
    for (const step of lastRound.steps)
      report.push(
        `  ${(step.start - lastRound.refreshed).toFixed(0).padStart(7)}  ${step.ms.toFixed(1).padStart(7)}  ${step.what}`,
      )
    report.push(
      `  ${(lastRound.synced - lastRound.refreshed).toFixed(0).padStart(7)}           synced + healthy seen`,
    )
  }
}

// swarm: a 2-replica stack update on a two-node swarm, docker-cd beside bare deploys.
async function swarmCase(server: GitServer) {
  const swarm = await startSwarm()
  try {
    const stack = 'bn-swarm-dcd'
    /** BENCH_SWARM_MONITOR: the stack's `deploy.update_config.monitor` (Swarm's default: 5s). */
    const monitor = process.env.BENCH_SWARM_MONITOR
    // The shell exits at once on SIGTERM: a replaced task is gone in
    // milliseconds, so the rollout is the engines' own work and any time
    // docker-cd adds shows.
    const swarmFile = (round: number) =>
      `services:\n  app:\n    image: ${image}\n    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]\n    stop_grace_period: 1s\n    environment:\n      ROUND: "${round}"\n    networks: [hostnet]\n    deploy:\n      replicas: 2\n${monitor ? `      update_config:\n        monitor: ${monitor}\n` : ''}${HOST_NETWORK}`
    const managerEnv = { ...process.env, DOCKER_HOST: `unix://${swarm.manager.socket}` }
    const cliMajor = Number(
      execFileSync('docker', ['version', '--format', '{{.Client.Version}}'], { encoding: 'utf8' })
        .trim()
        .split('.')[0],
    )
    /** The tasks Swarm wants running for a stack's service: id and whether it runs. */
    const tasksOf = async (bareStack: string) =>
      (
        await run(
          'docker',
          [
            'service',
            'ps',
            `${bareStack}_app`,
            '--filter',
            'desired-state=running',
            '--format',
            '{{.ID}} {{.CurrentState}}',
          ],
          { env: managerEnv },
        )
      ).stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => ({ id: line.split(' ')[0] as string, running: / Running /.test(line) }))
    type Bare = {
      stack: string
      dir: string
      /** `poll`: detached deploy, `docker service ps` polled (no pause) until both slots run new tasks; `cli`: the CLI's own wait (`--detach=false`, 26+). */
      wait: 'poll' | 'cli'
      times: number[]
    }
    const bares: Bare[] = [
      { stack: 'bn-swarm-bare', dir: tempDir('docker-cd-bench-swarm-'), wait: 'poll', times: [] },
      ...(cliMajor >= 26
        ? [
            {
              stack: 'bn-swarm-cli',
              dir: tempDir('docker-cd-bench-swarm-'),
              wait: 'cli' as const,
              times: [],
            },
          ]
        : []),
    ]
    const bareRound = async (bare: Bare, round: number) => {
      writeFileSync(join(bare.dir, 'compose.yaml'), swarmFile(round))
      const before = new Set(round === 0 ? [] : (await tasksOf(bare.stack)).map((task) => task.id))
      const started = performance.now()
      await run(
        'docker',
        [
          'stack',
          'deploy',
          '--compose-file',
          'compose.yaml',
          '--prune',
          '--resolve-image',
          'never',
          ...(bare.wait === 'cli' ? ['--detach=false', '--quiet'] : []),
          bare.stack,
        ],
        { cwd: bare.dir, env: managerEnv },
      )
      if (bare.wait === 'poll')
        for (;;) {
          const tasks = await tasksOf(bare.stack)
          if (tasks.length === 2 && tasks.every((task) => task.running && !before.has(task.id)))
            break
        }
      const ms = performance.now() - started
      if (round > 0) bare.times.push(ms)
      return ms
    }
    const repo = createFixtureRepo(server, { stacks: 0 })
    const commit = (round: number, message: string) =>
      repo.writeFile(`${stack}/compose.yaml`, swarmFile(round)).commitAndPush(message)
    commit(0, 'a swarm stack')
    const logFile = process.env.BENCH_SWARM_LOG
    const service = await startBuiltService({
      server,
      repoUrl: repo.url,
      token: TOKEN,
      env: {
        SYNC_MODE: 'detect',
        SYNC_TARGET: 'swarm',
        // The test image is on both nodes and in no registry (the bare side: the same flag).
        SWARM_RESOLVE_IMAGE: 'never',
        SYNC_TIMEOUT: '120s',
        DOCKER_HOST: `unix://${swarm.manager.socket}`,
        DOCKER_SOCKET: swarm.manager.socket,
        API_TOKEN,
        STACKS_DIR: join(tempDir('docker-cd-bench-stacks-'), 's'),
        ...(logFile ? { LOG_LEVEL: 'info' } : {}),
      },
      ...(logFile ? { logFile } : {}),
    })
    const calls = stackCalls(service.base, stack)
    const { post, status } = calls
    const syncTimes: number[] = []
    const sync = async (round: number) => {
      const ms = await calls.sync()
      if (round > 0) syncTimes.push(ms)
      return ms
    }
    // Round 0 creates the stacks; the rounds after it update them.
    for (let round = 0; round <= rounds; round++) {
      if (round > 0) {
        commit(round, `round ${round}`)
        await post('/api/refresh?wait=true')
        while ((await status()) !== 'out_of_sync') await sleep(20)
      }
      // Interleaved, the order turning each round: load from elsewhere falls on every side.
      const sides: [string, () => Promise<number>][] = [
        ...bares.map((bare): [string, () => Promise<number>] => [
          `bare ${bare.wait}`,
          () => bareRound(bare, round),
        ]),
        ['docker-cd', () => sync(round)],
      ]
      const took: string[] = []
      for (let i = 0; i < sides.length; i++) {
        const [name, side] = sides[(i + round) % sides.length] as (typeof sides)[number]
        took.push(`${name} ${(await side()).toFixed(0)} ms`)
      }
      process.stderr.write(`swarm, round ${round}: ${took.join(', ')}\n`)
    }
    await service.stop()
    // Reported before the swarm goes: its engines' teardown is not part of the measure.
    const syncMedian = median(syncTimes)
    const range = (times: number[]) =>
      `${Math.min(...times).toFixed(0)}–${Math.max(...times).toFixed(0)}`
    report.push(
      `swarm: one service of 2 replicas on 2 nodes, its environment changed (update_config.monitor ${monitor ?? 'unset: Swarm waits 5s'}), medians (min–max):`,
      ...bares.map(
        (bare) =>
          `  bare docker stack deploy ${bare.wait === 'poll' ? '+ docker service ps polled until both slots run new tasks' : '--detach=false (the CLI waits for convergence and the monitor period)'}: ${median(bare.times).toFixed(0)} ms (${range(bare.times)}); docker-cd ÷ this: ${(syncMedian / median(bare.times)).toFixed(2)}×`,
      ),
      `  docker-cd manual sync (stack config check + stack deploy + rollout watched to Swarm's verdict + read-back): ${syncMedian.toFixed(0)} ms (${range(syncTimes)})`,
    )
  } finally {
    await swarm
      .close()
      .catch((error: Error) =>
        process.stderr.write(`swarm: teardown: ${error.message.split('\n')[0]}\n`),
      )
  }
}

let bareMedian: number | undefined
if (cases.has('overhead')) bareMedian = await overheadCase(server, 'overhead')
if (cases.has('mounted')) await overheadCase(server, 'mounted')
if (cases.has('secrets')) await secretsCase(server)
if (cases.has('changed')) await changedCase(server, bareMedian)
if (cases.has('cold')) await coldCase(server)
if (cases.has('bare-parallel')) await bareParallelCase()
if (cases.has('steps')) await stepsCase(server)
if (cases.has('swarm')) await swarmCase(server)
server.close()

const engine = execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
  encoding: 'utf8',
}).trim()
process.stdout.write(
  [
    `engine ${engine}, compose ${execFileSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8' }).trim()}, ${rounds} rounds`,
    ...report,
    '',
  ].join('\n'),
)
cleanup()
process.exit(0)
