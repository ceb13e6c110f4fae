// `npm run demo`: runs the real service against a Git repository served
// over loopback HTTPS (git http-backend, self-signed certificate, token
// check): same config loading, git reader, sync and API as production; only
// the Git server is local.
//
// With a Docker engine, Compose v2 and a static busybox here, it deploys
// (SYNC_MODE=apply) a repository of its own (demo-stacks.ts) on an image it
// imports, and pushes its steps one after the other: a first deploy, a
// change of one service (only that one is recreated), a failing health check
// (rolled back, with the reason), the revert. DEMO_PACE is the pause in
// seconds before each step (12; 0 in the test). Without them it says why in
// one line and serves the bundled examples/ detect-only.
//
// Ctrl-C (SIGINT, SIGTERM) removes what it deployed (the Compose projects'
// containers and networks, the image) and what it wrote (temp dirs). The npm
// script sets TSX_DISABLE_CACHE=1: tsx then writes no cache of its own
// (<tmp>/tsx-<uid>) for the demo to leave behind.
import { spawnSync } from 'node:child_process'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as pause } from 'node:timers/promises'
import pino from 'pino'
import { Agent, fetch } from 'undici'
import { buildApp, startApp } from '../app.js'
import { loadConfig, loggerOptions } from '../services/base/index.js'
import { createEngine } from '../services/host/index.js'
import {
  busyboxUnavailable,
  composeUnavailable,
  importBusyboxImage,
  removeProject,
} from '../test/helpers/docker.js'
import { createFixtureRepo, git } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { removeTempDirs, tempDir } from '../test/helpers/temp-dir.js'
import { DEMO_README, type DemoNames, demoNames, webCompose, workerCompose } from './demo-stacks.js'

const port = Number(process.env.PORT ?? 8080)
const paceMs = Number(process.env.DEMO_PACE ?? 12) * 1000
const names = demoNames(process.env.DEMO_NAME ?? 'docker-cd-demo')
const say = (line: string) => process.stdout.write(`${line}\n`)
const token = `demo-${Math.random().toString(36).slice(2)}`
const gitServer = await startGitServer({ token })
const cacheDir = tempDir('docker-cd-demo-cache-')

const settings = (repoUrl: string, syncMode: 'detect' | 'apply') =>
  loadConfig({
    GIT_REPO_URL: repoUrl,
    GIT_REVISION: 'main',
    GIT_ACCESS_TOKEN: token,
    GIT_SSL_CAINFO: gitServer.caFile,
    GIT_CACHE_DIR: cacheDir,
    REFRESH_POLL_INTERVAL: process.env.REFRESH_POLL_INTERVAL ?? '30s',
    WEBHOOK_SECRET: 'demo-secret',
    PROJECT_NAME: 'Docker-CD demo',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    DOCKER_HOST: process.env.DOCKER_HOST,
    SYNC_MODE: syncMode,
    SYNC_TIMEOUT: '60s',
  })

/** Why the demo cannot deploy here (one line), or undefined when it can. */
async function deployUnavailable(dockerHost: string): Promise<string | undefined> {
  try {
    await createEngine({ dockerHost, timeoutMs: 2000 }).ping()
  } catch (error) {
    return `no Docker engine answers at ${dockerHost} (${(error as Error).message})`
  }
  return composeUnavailable() ?? busyboxUnavailable()
}

/** Every container and network of the demo's projects, and its image: gone. */
function removeFromHost(demo: DemoNames) {
  for (const stack of demo.stacks) removeProject(demo.project(stack))
  spawnSync('docker', ['image', 'rm', demo.image], { stdio: 'ignore' })
}

const engineAt = settings(gitServer.url('probe'), 'detect').dockerHost
const whyNot = await deployUnavailable(engineAt)
const applying = whyNot === undefined
if (applying) {
  // Leftovers of a demo of the same name that was killed without Ctrl-C.
  removeFromHost(names)
  importBusyboxImage(names.image)
}
const repo = createFixtureRepo(gitServer, { name: applying ? 'demo' : 'examples' })
if (applying) repo.writeFile('README.md', DEMO_README).commitAndPush('an empty demo repository')
else {
  cpSync(join(import.meta.dirname, '..', 'examples'), repo.workDir, { recursive: true })
  repo.commitAndPush('bundled examples')
}

const config = settings(repo.url, applying ? 'apply' : 'detect')
// Readable log lines for a person at a terminal, even when piped.
const logger = pino({ ...loggerOptions(config.logLevel), transport: { target: 'pino-pretty' } })
const app = await buildApp({ config, loggerInstance: logger })

const steps = new AbortController()
// The steps' own connections to the API, closed before the server: a kept-alive
// one that answered after the server began to close would hold it open for
// Fastify's keep-alive timeout (72 s).
const client = new Agent()
let stopping = false
const stop = async (code = 0) => {
  if (stopping) return say('demo: already stopping, one moment')
  stopping = true
  steps.abort()
  await client.destroy()
  if (applying) say(`demo: stopping; removing ${names.stacks.join(' and ')} and ${names.image}`)
  await app.close()
  await gitServer.close()
  if (applying) removeFromHost(names)
  removeTempDirs()
  say('demo: stopped; nothing it deployed or wrote is left')
  process.exit(code)
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())

let base: string
try {
  base = await app.listen({ port: config.port, host: config.host })
} catch (error) {
  const busy = (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
  process.stderr.write(
    busy
      ? `demo: port ${port} is already in use; run it on another one: PORT=8081 npm run demo\n`
      : `demo: cannot listen on ${config.host}:${port}: ${(error as Error).message}\n`,
  )
  await stop(1)
  throw error // not reached: stop() exits
}
await startApp(app)

const commitHint = `git -c user.name=demo -c user.email=demo@example.test commit -qam 'my change' && git push -q origin HEAD:main`
const tryIt = `Try:
  curl ${base}/api/stacks
  curl ${base}/api/stacks/web
  curl ${base}/api/stacks/web/compose
  curl ${base}/api/host   (the engine and every Compose project on it)
  curl -s ${base}/api/stacks/web/archive | tar tzvf -
  curl -N ${base}/api/events   (the live change feed: refresh from another terminal)
  curl ${base}/api/refresh-status
  curl -X POST '${base}/api/refresh?wait=true'
  curl ${base}/readyz ${base}/healthz
  curl ${base}/metrics
  open ${base}/docs (OpenAPI UI) or curl ${base}/openapi.json

Signed webhook (secret "demo-secret"):
  body='{"ref":"refs/heads/main"}'
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac demo-secret | sed 's/.* //')
  curl -X POST ${base}/api/webhook -H 'content-type: application/json' -H 'x-github-event: push' -H "x-hub-signature-256: sha256=$sig" -d "$body"

Polling every ${config.refreshPollIntervalMs / 1000}s as well. Logs at LOG_LEVEL=${config.logLevel}
(LOG_LEVEL=info npm run demo shows every refresh and deploy).`

if (!applying) {
  say(`
demo: no deploys here: ${whyNot}; SYNC_MODE=detect on the bundled examples/ instead.
docker-cd demo is running at ${base}
It reads ${repo.url} (the bundled examples/, served over HTTPS on loopback).
Each stack is compared with the Docker engine at ${config.dockerHost} via Compose; with no
engine or no Compose v2 here, stacks read unknown and /api/stacks/<name> says why.
Dashboard: open ${base}/ui in a browser (live; a stack's page shows its files and plan).

${tryIt}

Change an example and refresh:
  cd ${repo.workDir}
  mkdir -p blog && printf 'services:\\n  blog:\\n    image: ghost:5\\n' > blog/compose.yaml
  git add -A && ${commitHint}
  curl -X POST '${base}/api/refresh?wait=true'; echo; curl ${base}/api/stacks; echo

Ctrl-C stops the demo and removes its temporary files.
`)
} else {
  say(`
docker-cd demo is running at ${base} and deploys (SYNC_MODE=apply) to the Docker engine at ${config.dockerHost}.
It reads ${repo.url}: a demo repository of its own, served over HTTPS on loopback, whose
stacks run ${names.image}, imported on this machine (no registry, pull_policy: never).
Open the dashboard now: ${base}/ui (live). Each step below is a commit pushed to that repository
and a POST /api/refresh?wait=sync, which answers once the deploys it caused are over.
Ctrl-C stops the demo at any time and removes everything it deployed and wrote.
`)
  void runSteps().catch((error: Error) => {
    if (!stopping) say(`demo: the steps stopped: ${error.message}`)
  })
}

type StackDetail = {
  status: string
  health?: string
  reason?: string
  sync?: { reason?: string }
  history?: { result: string; servicesChanged: string[] }[]
}

type Step = {
  /** What is coming, before the pause. */
  intro: string
  /** Changes the work tree; returns the commit message. */
  change: () => string
  /** What to look at on the dashboard while it deploys. */
  watch: string
  /** The stacks it changes, whose details `outcome` reads. */
  stacks: ('web' | 'worker')[]
  /** The outcome in one line, or undefined when it is not what the step shows. */
  outcome: (...details: StackDetail[]) => string | undefined
}

async function runSteps() {
  const signal = steps.signal
  const detail = async (stack: string): Promise<StackDetail> =>
    (
      await fetch(`${base}/api/stacks/${stack}`, { signal, dispatcher: client })
    ).json() as Promise<StackDetail>
  const healthOf = (d: StackDetail) => (d.health ? `, ${d.health}` : '')
  const plan: Step[] = [
    {
      intro:
        'the first deploy: a commit adds two stacks, web (frontend and api, on their own network) and worker (jobs)',
      change: () => {
        repo.writeStack('web', webCompose(names, 1)).writeStack('worker', workerCompose(names))
        return 'add web and worker'
      },
      watch: `watch ${base}/ui: web and worker appear, turn syncing, then synced`,
      stacks: ['web', 'worker'],
      outcome: (web, worker) =>
        web?.status === 'synced' && worker?.status === 'synced'
          ? `web is synced${healthOf(web)}, worker is synced${healthOf(worker)}`
          : undefined,
    },
    {
      intro: "a change of one service: api's release 1 -> 2 in web; frontend stays as it is",
      change: () => {
        repo.writeStack('web', webCompose(names, 2))
        return 'web: api release 2'
      },
      watch: `watch ${base}/ui/stacks/web: only api's container is recreated, frontend keeps its uptime`,
      stacks: ['web'],
      outcome: (web) => {
        if (!web) return undefined
        const changed = web.history?.[0]?.servicesChanged ?? []
        return web.status === 'synced' && changed.join() === 'api'
          ? `web is synced${healthOf(web)}; Compose recreated api only (the history's latest run: services changed: api)`
          : undefined
      },
    },
    {
      intro:
        'a commit whose health check fails: worker checks for a file jobs never writes (a typo)',
      change: () => {
        repo.writeStack('worker', workerCompose(names, '/tmp/raedy'))
        return 'worker: check readiness (with a typo)'
      },
      watch: `watch ${base}/ui/stacks/worker: the deploy waits for health, fails, and the previous tree is put back`,
      stacks: ['worker'],
      outcome: (worker) =>
        worker?.status === 'failed'
          ? `worker failed and was rolled back: ${worker.sync?.reason ?? worker.reason}`
          : undefined,
    },
    {
      intro: 'the fix: a revert of the broken commit',
      change: () => {
        git(repo.workDir, 'revert', '--no-edit', 'HEAD')
        return ''
      },
      watch: `watch ${base}/ui/stacks/worker: Git wants what runs again, and the stack turns synced`,
      stacks: ['worker'],
      outcome: (worker) =>
        worker?.status === 'synced'
          ? `worker is synced${healthOf(worker)}: ${worker.reason ?? 'Git and the host agree'}`
          : undefined,
    },
  ]
  for (const [index, step] of plan.entries()) {
    const tag = `[${index + 1}/${plan.length}]`
    say(`${tag} ${paceMs > 0 ? `in ${paceMs / 1000} s: ` : ''}${step.intro}`)
    await pause(paceMs, undefined, { signal })
    const message = step.change()
    const sha = message ? repo.commitAndPush(message) : repo.push()
    const subject = git(repo.workDir, 'log', '-1', '--format=%s')
    say(`${tag} pushed ${sha.slice(0, 7)} "${subject}"; ${step.watch}`)
    await fetch(`${base}/api/refresh?wait=sync`, { method: 'POST', signal, dispatcher: client })
    const found = await Promise.all(step.stacks.map(detail))
    const line = step.outcome(...found)
    if (!line) {
      const states = found.map(
        (d, i) =>
          `${step.stacks[i]} is ${d.status} (${d.sync?.reason ?? d.reason ?? 'no reason given'})`,
      )
      say(`${tag} unexpected: ${states.join('; ')}; the steps stop here, ${base}/ui says more`)
      return
    }
    say(`${tag} ${line}`)
  }
  say(`
demo: all steps done; it keeps running. Make a change of your own:
  cd ${repo.workDir}
  sed -i 's/api release 2/api release 3/' web/compose.yaml
  ${commitHint}
  curl -X POST '${base}/api/refresh?wait=sync'; echo

${tryIt}

Ctrl-C stops the demo and removes the stacks it deployed, their network, ${names.image}
and its temporary files.`)
}
