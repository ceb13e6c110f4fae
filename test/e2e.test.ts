import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { waitFor } from './helpers/build.js'
import { freePort } from './helpers/free-port.js'
import { createFixtureRepo } from './helpers/git-fixture.js'
import { startGitServer } from './helpers/git-server.js'
import { delivery, pushPayload } from './helpers/github.js'

// End to end: the built server (dist/server.js, as `npm start` runs it) as a
// process, against the HTTPS Git server. `npm test` builds first (pretest).

const TOKEN = 'tok-e2e-4410ab'
const SECRET = 'whsec-e2e-9d'
const serverJs = join(import.meta.dirname, '..', 'dist', 'server.js')
t.ok(existsSync(serverJs), 'dist/server.js is built')

const git = await startGitServer({ token: TOKEN })
t.teardown(() => git.close())

function startService(env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [serverJs], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk) => {
    output.stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output.stderr += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  return { child, output, exited }
}

t.test('push + signed webhook → /api/stacks changes; SIGTERM exits 0', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 2 })
  const tokenFile = join(mkdtempSync(join(tmpdir(), 'docker-cd-secret-')), 'token')
  writeFileSync(tokenFile, `${TOKEN}\n`)
  const port = await freePort()
  const service = startService({
    GIT_REPO_URL: repo.url,
    GIT_REVISION: 'main',
    GIT_ACCESS_TOKEN_FILE: tokenFile,
    WEBHOOK_SECRET: SECRET,
    GIT_SSL_CAINFO: git.caFile,
    GIT_CACHE_DIR: mkdtempSync(join(tmpdir(), 'docker-cd-cache-')),
    REFRESH_POLL_INTERVAL: '0',
    PORT: String(port),
    HOST: '127.0.0.1',
  })
  const base = `http://127.0.0.1:${port}`
  await waitFor(
    () =>
      fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
    'the service to become ready',
  )
  const stacks = async () =>
    ((await (await fetch(`${base}/api/stacks`)).json()) as { path: string }[]).map((s) => s.path)
  t.same(await stacks(), ['stack-00000', 'stack-00001'])

  const head = repo.writeStack('from-webhook').commitAndPush()
  const d = delivery('push', pushPayload('refs/heads/main', head), { secret: SECRET })
  const res = await fetch(`${base}/api/webhook`, {
    method: 'POST',
    headers: d.headers,
    body: d.payload,
  })
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
    GIT_CACHE_DIR: mkdtempSync(join(tmpdir(), 'docker-cd-cache-')),
  })
  t.equal(await service.exited, 1)
  t.match(service.output.stderr, /^docker-cd: startup refresh failed: auth_failed: .+\n$/)
  t.notMatch(service.output.stderr + service.output.stdout, 'not-the-token')
})
