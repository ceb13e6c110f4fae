import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { waitFor } from './helpers/build.js'
import { freePort } from './helpers/free-port.js'
import { createFixtureRepo } from './helpers/git-fixture.js'
import { commandLinesContaining, startGitServer } from './helpers/git-server.js'
import { sendPush } from './helpers/github.js'
import {
  serviceEnv as envFor,
  isReady,
  serverJs,
  startService as start,
} from './helpers/service.js'
import { tempDir } from './helpers/temp-dir.js'

// End to end: the built server as a process, against the HTTPS Git server.

const TOKEN = 'tok-e2e-4410ab'
const SECRET = 'whsec-e2e-9d'
t.ok(existsSync(serverJs), 'dist/server.js is built')

const git = await startGitServer({ token: TOKEN })
t.teardown(() => git.close())

const startService = (env: Record<string, string>) => start(t, env)

t.test('push + signed webhook → /api/stacks changes; SIGTERM exits 0', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 2 })
  const tokenFile = join(tempDir('docker-cd-secret-'), 'token')
  writeFileSync(tokenFile, `${TOKEN}\n`)
  const port = await freePort()
  const service = startService({
    GIT_REPO_URL: repo.url,
    GIT_REVISION: 'main',
    GIT_ACCESS_TOKEN_FILE: tokenFile,
    WEBHOOK_SECRET: SECRET,
    GIT_SSL_CAINFO: git.caFile,
    GIT_CACHE_DIR: tempDir('docker-cd-cache-'),
    REFRESH_POLL_INTERVAL: '0',
    PORT: String(port),
    HOST: '127.0.0.1',
  })
  const base = `http://127.0.0.1:${port}`
  await waitFor(() => isReady(base), 'the service to become ready')
  const stacks = async () =>
    ((await (await fetch(`${base}/api/stacks`)).json()) as { path: string }[]).map((s) => s.path)
  t.same(await stacks(), ['stack-00000', 'stack-00001'])

  const head = repo.writeStack('from-webhook').commitAndPush()
  const res = await sendPush(base, head, SECRET)
  t.equal(res.status, 200)
  await waitFor(
    async () => (await stacks()).includes('from-webhook'),
    'the webhook to refresh the cache',
  )
  const status = (await (await fetch(`${base}/api/refresh-status`)).json()) as Record<
    string,
    unknown
  >
  t.match(status, { revision: head, trigger: 'webhook', refreshStatus: 'completed' })
  t.match(await (await fetch(`${base}/`)).text(), /stacks: +3/)

  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0, 'clean exit on SIGTERM')
  const logs = service.output.stdout
  t.match(logs, /"msg":"refresh finished"/)
  t.match(logs, /"msg":"shutting down"/)
  t.match(
    logs,
    /API_TOKEN is not set: anyone who can reach the port can read the dashboard and \/api\/\*.*file contents.*only to clients on this host/,
    'what is open and what is not is warned about',
  )
  t.notMatch(logs + service.output.stderr, TOKEN, 'the token is not in the logs')
  t.notMatch(logs + service.output.stderr, SECRET, 'the webhook secret is not in the logs')
})

t.test('configuration errors: every one reported, exit non-zero before listening', async (t) => {
  const service = startService({
    GIT_REPO_URL: 'http://insecure.example/repo.git',
    GIT_DEPLOY_DIR: '/abs',
    PORT: 'x',
  })
  t.equal(await service.exited, 1)
  const lines = service.output.stderr.trim().split('\n')
  t.same(lines.map((l) => l.split(':').slice(0, 3).join(':')).sort(), [
    'docker-cd: configuration: GIT_DEPLOY_DIR',
    'docker-cd: configuration: GIT_REPO_URL',
    'docker-cd: configuration: GIT_REVISION',
    'docker-cd: configuration: PORT',
  ])
})

t.test('repository errors: one line naming the category, exit non-zero', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const service = startService({
    GIT_REPO_URL: repo.url,
    GIT_REVISION: 'main',
    GIT_ACCESS_TOKEN: 'not-the-token',
    GIT_SSL_CAINFO: git.caFile,
    GIT_CACHE_DIR: tempDir('docker-cd-cache-'),
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
  })
  t.equal(await service.exited, 1)
  t.match(service.output.stderr, /^docker-cd: startup refresh failed: auth_failed: .+\n$/)
  t.match(service.output.stderr, /GIT_ACCESS_TOKEN/, 'the message says what to check')
  t.notMatch(service.output.stderr + service.output.stdout, 'not-the-token')
  t.match(
    service.output.stdout,
    /WEBHOOK_SECRET is not set: .*make the service fetch from the Git host again and again/,
    'the startup warning says what an unsigned webhook can be used for',
  )
})

const serviceEnv = (repoUrl: string, env: Record<string, string> = {}) => envFor(git, repoUrl, env)

t.test('a slow Git server: the startup refresh outlasts any framework hook limit', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 2 })
  git.setDelay(4_000)
  t.teardown(() => git.setDelay(0))
  const env = await serviceEnv(repo.url, { GIT_TIMEOUT: '30s' })
  const started = Date.now()
  const service = startService(env)
  const base = `http://127.0.0.1:${env.PORT}`
  const ok = (path: string) =>
    fetch(`${base}${path}`).then(
      (r) => r.status,
      () => 0,
    )
  await waitFor(async () => (await ok('/healthz')) === 200, 'the service to listen', 30_000)
  t.equal(await ok('/readyz'), 503, 'listening, alive, not ready while the first fetch runs')
  await waitFor(async () => (await ok('/readyz')) === 200, 'the service to become ready', 120_000)
  t.ok(
    Date.now() - started > 10_000,
    "the startup refresh took longer than Fastify's 10 s plugin timeout, and still finished",
  )
  const stacks = (await (await fetch(`${base}/api/stacks`)).json()) as { path: string }[]
  t.same(
    stacks.map((s) => s.path),
    ['stack-00000', 'stack-00001'],
  )
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
})

t.test('a hanging Git server at startup: exit 1 with timeout after GIT_TIMEOUT', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  git.setHang(true)
  t.teardown(() => git.setHang(false))
  const service = startService(await serviceEnv(repo.url, { GIT_TIMEOUT: '3s' }))
  t.equal(await service.exited, 1)
  t.match(
    service.output.stderr,
    /^docker-cd: startup refresh failed: timeout: git ls-remote did not finish within 3000ms\n$/,
  )
  t.match(service.output.stdout, /"msg":"refresh failed; no good state yet"/)
  t.notMatch(service.output.stdout, /last good state/, 'no last good state is claimed at startup')
})

t.test('a busy port: one line naming PORT=, exit 1', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const env = await serviceEnv(repo.url)
  const first = startService(env)
  const base = `http://127.0.0.1:${env.PORT}`
  await waitFor(() => isReady(base), 'the first service to be ready')
  const second = startService({ ...env, GIT_CACHE_DIR: tempDir('docker-cd-cache-') })
  t.equal(await second.exited, 1)
  t.match(
    second.output.stderr,
    /^docker-cd: cannot listen: port \d+ on 127\.0\.0\.1 is already in use; set PORT= to another port\n$/,
  )
  t.notMatch(
    second.output.stdout,
    /"level":50/,
    'no error line before it: the stopped refresh is not an error',
  )
  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0)
})

/**
 * A ready service whose next refresh hangs on the Git server: the manual
 * refresh request (`query` e.g. `?wait=true`) is sent and the hang reached.
 */
async function refreshHangingOnGit(t: Test, gitTimeout: string, query: string) {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const env = await serviceEnv(repo.url, { GIT_TIMEOUT: gitTimeout })
  const service = startService(env)
  const base = `http://127.0.0.1:${env.PORT}`
  await waitFor(() => isReady(base), 'the service to be ready')
  git.setHang(true)
  t.teardown(() => git.setHang(false))
  const sent = git.requests.length
  const waiting = fetch(`${base}/api/refresh${query}`, { method: 'POST' })
  await waitFor(() => git.requests.length > sent, 'the refresh to hang on the Git server')
  const gitProcesses = () =>
    commandLinesContaining([repo.url]).filter((line) => /\bgit\b|git-remote/.test(line))
  return { service, waiting, gitProcesses }
}

t.test(
  'SIGTERM while a caller waits on a hanging Git server: 503, exit 0, no git left',
  async (t) => {
    const { service, waiting, gitProcesses } = await refreshHangingOnGit(t, '120s', '?wait=true')
    t.ok(gitProcesses().length > 0, 'a git process is waiting on the server')

    service.child.kill('SIGTERM')
    const answer = await waiting
    t.equal(answer.status, 503, 'the waiting caller is answered')
    t.match(await answer.json(), { statusCode: 503, message: /^shutting down: aborted: / })
    t.equal(await service.exited, 0, 'a clean exit, within the shutdown deadline')
    t.same(gitProcesses(), [], 'no git process is left behind')
  },
)

t.test('a SIGKILLed service leaves no git behind: git ends at its own timeout', async (t) => {
  const { service, waiting, gitProcesses } = await refreshHangingOnGit(t, '3s', '')
  await waiting
  t.ok(gitProcesses().length > 0, 'git is waiting on the server')

  service.child.kill('SIGKILL')
  await service.exited
  await waitFor(() => gitProcesses().length === 0, 'the orphaned git to end by itself', 30_000)
  t.pass('no git process is left after GIT_TIMEOUT')
})

t.test('one instance per GIT_CACHE_DIR; a dead instance’s lock is taken over', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const env = await serviceEnv(repo.url)
  const first = startService(env)
  const firstBase = `http://127.0.0.1:${env.PORT}`
  await waitFor(() => isReady(firstBase), 'the first instance to be ready')

  const second = startService({ ...env, PORT: String(await freePort()) })
  t.equal(await second.exited, 1, 'a second instance on the same cache dir refuses to start')
  t.match(
    second.output.stderr,
    `docker-cd: GIT_CACHE_DIR ${env.GIT_CACHE_DIR} is in use by another docker-cd instance`,
  )
  t.ok(await isReady(firstBase), 'the first one is untouched')

  first.child.kill('SIGKILL')
  await first.exited
  const thirdPort = await freePort()
  startService({ ...env, PORT: String(thirdPort) })
  await waitFor(
    () => isReady(`http://127.0.0.1:${thirdPort}`),
    'a new instance to take over the stale lock of the killed one',
    40_000,
  )
  t.pass('the stale lock of a SIGKILLed instance was recovered')
})
