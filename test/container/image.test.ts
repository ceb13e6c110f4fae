import { execFile } from 'node:child_process'
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { waitFor } from '../helpers/build.js'
import { ensureTestImage } from '../helpers/docker.js'
import { freePort } from '../helpers/free-port.js'
import {
  composeFor,
  createFixtureRepo,
  missingStack,
  git as runGitIn,
} from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { delivery, pushPayload } from '../helpers/github.js'
import { tempDir } from '../helpers/temp-dir.js'

// The shipped image, really run: built by scripts/container-test.sh (its tag
// arrives in DOCKER_CD_IMAGE), started with `docker run --network host`
// against the loopback HTTPS Git test server, with the test CA and the token
// mounted as secret files and the Docker socket mounted read-only.

const image = process.env.DOCKER_CD_IMAGE
if (!image) {
  t.fail('DOCKER_CD_IMAGE is not set: run `npm run test:container`, which builds the image first')
  process.exit(1)
}
const execFileAsync = promisify(execFile)
async function docker(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('docker', args, { maxBuffer: 64 * 1024 * 1024 })
  return stdout.trim()
}
/** stdout and stderr of a command that may fail, with its exit code. */
async function dockerResult(...args: string[]) {
  try {
    const { stdout, stderr } = await execFileAsync('docker', args)
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

/** A shell command in a throwaway container of the image, without network. */
const shellInImage = (command: string) =>
  dockerResult('run', '--rm', '--network', 'none', '--entrypoint', 'sh', image, '-c', command)

const TOKEN = `tok-container-${process.pid}-7f3a`
const SECRET = `whsec-container-${process.pid}-c1`
const API_TOKEN = `api-container-${process.pid}-0123456789`
const secretNeedles = [
  TOKEN,
  SECRET,
  API_TOKEN,
  Buffer.from(`x-access-token:${TOKEN}`).toString('base64'),
]

const git = await startGitServer({ token: TOKEN })
t.teardown(() => git.close())
const repo = createFixtureRepo(git, { deployDir: 'stacks' })
for (const stack of ['web', 'cache', 'monitoring']) repo.writeStack(stack)
// A stack of the tiny local test image (no registry here), deployed by a manual sync.
const tinyFile = `services:\n  app:\n    image: ${ensureTestImage()}\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n`
repo.writeStack('tiny', tinyFile)
repo.writeFile('README.md', 'not a stack\n')
repo.commitAndPush('three stacks')

// Secret files as Docker/Compose secrets deliver them: readable by the
// container's user (uid 1000, `node`), by nobody else.
// STACKS_DIR at the same path inside and on the host, writable by the
// image's user (uid 1000), as the README tells operators to mount it.
const stacksDir = tempDir('docker-cd-image-stacks-')
chownSync(stacksDir, 1000, 1000)
const secrets = tempDir('docker-cd-secrets-')
chmodSync(secrets, 0o755)
for (const [name, content] of [
  ['git_token', `${TOKEN}\n`],
  ['webhook_secret', `${SECRET}\n`],
  ['api_token', `${API_TOKEN}\n`],
  ['git_ca.pem', readFileSync(git.caFile, 'utf8')],
] as const) {
  const file = join(secrets, name)
  writeFileSync(file, content, { mode: 0o400 })
  if (process.getuid?.() === 0) chownSync(file, 1000, 1000)
  else chmodSync(file, 0o444)
}

const socket = '/var/run/docker.sock'
const port = await freePort()
const base = `http://127.0.0.1:${port}`
const name = `docker-cd-test-${process.pid}`
const responses: string[] = []
async function get(path: string) {
  const response = await fetch(`${base}${path}`, {
    headers: { authorization: `Bearer ${API_TOKEN}` },
  })
  const body = await response.text()
  responses.push(body)
  return { status: response.status, body }
}

await docker(
  'run',
  '--detach',
  '--name',
  name,
  '--network',
  'host',
  '--group-add',
  String(statSync(socket).gid),
  '--volume',
  `${socket}:${socket}:ro`,
  '--volume',
  `${secrets}:/run/secrets:ro`,
  '--volume',
  `${stacksDir}:${stacksDir}`,
  // The image's own HEALTHCHECK command, probed every second instead of every
  // 30 s so the test need not wait for the production interval.
  '--health-interval',
  '1s',
  '--env',
  `GIT_REPO_URL=${repo.url}`,
  '--env',
  'GIT_REVISION=main',
  '--env',
  'GIT_DEPLOY_DIR=stacks',
  '--env',
  'GIT_ACCESS_TOKEN_FILE=/run/secrets/git_token',
  '--env',
  'WEBHOOK_SECRET_FILE=/run/secrets/webhook_secret',
  '--env',
  'API_TOKEN_FILE=/run/secrets/api_token',
  '--env',
  'GIT_SSL_CAINFO=/run/secrets/git_ca.pem',
  '--env',
  'REFRESH_POLL_INTERVAL=0',
  // The host, read through the mounted socket with the image's own Compose.
  '--env',
  'SYNC_MODE=detect',
  '--env',
  `STACKS_DIR=${stacksDir}`,
  // Short, so the zombie test below can force a few timeouts quickly.
  '--env',
  'GIT_TIMEOUT=5s',
  '--env',
  `PORT=${port}`,
  '--env',
  'HOST=127.0.0.1',
  '--env',
  'PROJECT_NAME=container-test',
  image,
)
t.teardown(() => dockerResult('rm', '--force', '--volumes', name))
const started = Date.now()

t.test('image metadata: user, volume, healthcheck, labels, size', async (t) => {
  const config = JSON.parse(await docker('image', 'inspect', '--format', '{{json .Config}}', image))
  t.equal(config.User, 'node')
  t.same(config.Entrypoint, ['/usr/bin/tini', '-s', '--'], 'tini is PID 1')
  t.ok('/var/cache/docker-cd' in (config.Volumes ?? {}), 'Git cache is a volume')
  t.ok(config.Env.includes('GIT_CACHE_DIR=/var/cache/docker-cd'))
  t.match(config.Healthcheck.Test.join(' '), /\/healthz/, 'HEALTHCHECK probes /healthz')
  t.notMatch(config.Healthcheck.Test.join(' '), /curl|wget/, 'without curl or wget')
  t.equal(config.Labels['org.opencontainers.image.title'], 'docker-cd')
  const bytes = Number(await docker('image', 'inspect', '--format', '{{.Size}}', image))
  t.comment(`image size: ${(bytes / 1e6).toFixed(1)} MB`)
  const npm = await shellInImage('command -v npm')
  t.not(npm.code, 0, 'npm is not shipped in the runtime image')
  const tools = await shellInImage('ssh -V && prlimit --version')
  t.equal(tools.code, 0, 'the ssh client (ssh URLs) and prlimit (GIT_MEMORY_LIMIT) are there')
})

type Stack = {
  path: string
  composeFile: string
  composeHash: string
  status: string
  treeHash: string
}
/** The list without each stack's reason: it follows the host check, live (test/host/reason-live.test.ts). */
async function stacks(): Promise<Stack[]> {
  const { status, body } = await get('/api/stacks')
  if (status !== 200) throw new Error(`/api/stacks answered ${status}`)
  return (JSON.parse(body) as (Stack & { reason?: unknown })[]).map(({ reason, ...stack }) => {
    if (reason !== undefined && typeof reason !== 'string')
      throw new Error(`stack ${stack.path}: reason is not text`)
    return stack
  })
}
/** A stack as listed, its tree id read from the fixture's own work tree at HEAD. */
const expected = (path: string, content = composeFor(path)) => ({
  ...missingStack(path, 'compose.yaml', content),
  treeHash: runGitIn(repo.workDir, 'rev-parse', `HEAD:stacks/${path}`),
})

t.test('becomes ready after its startup refresh', async (t) => {
  await waitFor(
    () =>
      get('/readyz').then(
        (r) => r.status === 200,
        () => false,
      ),
    'the container to be ready',
    60_000,
  ).catch(async (error) => {
    t.comment(await dockerResult('logs', name).then((r) => r.stdout + r.stderr))
    throw error
  })
  t.comment(`ready ${Date.now() - started} ms after docker run`)
  const status = JSON.parse((await get('/api/refresh-status')).body)
  t.equal(status.revision, repo.head(), 'serves the pushed commit')
  t.equal(status.refreshStatus, 'completed')
})

t.test('stacks match the repository', async (t) => {
  t.same(await stacks(), [
    expected('cache'),
    expected('monitoring'),
    expected('tiny', tinyFile),
    expected('web'),
  ])
})

t.test("the host, read with the image's Compose through the mounted socket", async (t) => {
  const detail = await waitFor(async () => {
    const body = JSON.parse((await get('/api/stacks/web')).body)
    return body.sync ? body : undefined
  }, 'the first host check')
  t.match(detail, {
    status: 'missing',
    project: 'web',
    sync: { reason: 'not deployed: no container of project web exists', plan: [] },
  })
  t.ok(statSync(join(stacksDir, 'web', 'compose.yaml')).isFile(), 'the work tree is on the host')
  const host = JSON.parse((await get('/api/host')).body)
  t.match(host, { syncMode: 'detect', engine: { reachable: true, eventsConnected: true } })
  const compose = await shellInImage(
    '/usr/libexec/docker/cli-plugins/docker-compose version --short',
  )
  t.match(compose.stdout, /^2\./, 'Compose v2 is in the image')
})

t.test('a manual sync deploys a stack with the image’s Compose, from inside', async (t) => {
  t.teardown(() => dockerResult('rm', '--force', 'tiny-app-1'))
  const response = await fetch(`${base}/api/stacks/tiny/sync?wait=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}` },
  })
  const body = await response.text()
  responses.push(body)
  t.equal(response.status, 200, body)
  t.match(JSON.parse(body), { status: 'completed' })
  t.equal(await docker('inspect', '--format', '{{.State.Running}}', 'tiny-app-1'), 'true')
  t.equal(
    await docker(
      'inspect',
      '--format',
      '{{index .Config.Labels "com.docker.compose.project.working_dir"}}',
      'tiny-app-1',
    ),
    join(stacksDir, 'tiny'),
    'Compose ran in the work tree, at the same path on the host',
  )
  const detail = await waitFor(async () => {
    const stack = JSON.parse((await get('/api/stacks/tiny')).body)
    return stack.status === 'synced' && stack
  }, 'tiny synced')
  t.match(detail, { sync: { lastResult: 'completed' }, history: [{ trigger: 'manual' }] })
})

t.test('a signed webhook refreshes; an unsigned one is refused', async (t) => {
  const changed = 'services:\n  web:\n    image: nginx:1.28\n'
  repo.writeStack('web', changed)
  const after = repo.commitAndPush('bump web')

  const unsigned = delivery('push', pushPayload('refs/heads/main', after))
  const refused = await fetch(`${base}/api/webhook`, {
    method: 'POST',
    headers: unsigned.headers,
    body: unsigned.payload,
  })
  responses.push(await refused.text())
  t.equal(refused.status, 401, 'no signature → 401')

  const signed = delivery('push', pushPayload('refs/heads/main', after), { secret: SECRET })
  const accepted = await fetch(`${base}/api/webhook`, {
    method: 'POST',
    headers: signed.headers,
    body: signed.payload,
  })
  const body = await accepted.text()
  responses.push(body)
  t.equal(accepted.status, 200, body)
  t.match(JSON.parse(body), { status: /^(refreshing|queued)$/ })

  await waitFor(
    async () => JSON.parse((await get('/api/refresh-status')).body).revision === after,
    'the webhook refresh to land',
  )
  t.same(await stacks(), [
    expected('cache'),
    expected('monitoring'),
    expected('tiny', tinyFile),
    expected('web', changed),
  ])
})

t.test('the status page counts the running containers the engine reports', async (t) => {
  const engine = (await docker('ps', '--quiet', '--filter', 'status=running'))
    .split('\n')
    .filter(Boolean)
  const { status, body } = await get('/')
  t.equal(status, 200)
  t.match(body, new RegExp(`containers:\\s+${engine.length} running`), body)
  t.ok(engine.length >= 1, 'the engine lists at least this container')
  t.ok(body.includes(repo.url), 'names the repository')
  t.notMatch(body, /unavailable/, 'the mounted socket is readable by the non-root user')
})

t.test('runs as a non-root user', async (t) => {
  const pid = await docker('inspect', '--format', '{{.State.Pid}}', name)
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  t.equal(uid, '1000', 'PID 1 of the container runs as uid 1000 (node)')
  t.equal(await docker('inspect', '--format', '{{.Config.User}}', name), 'node')
})

t.test('the image healthcheck turns healthy', async (t) => {
  const health = await waitFor(
    async () => {
      const state = await docker('inspect', '--format', '{{.State.Health.Status}}', name)
      return state === 'healthy' && state
    },
    'the container to be healthy',
    60_000,
  )
  t.equal(health, 'healthy')
})

t.test('no secret in logs, responses, argv, environment or the cache volume', async (t) => {
  const logs = await dockerResult('logs', name)
  t.ok(logs.stdout.length > 0, 'the service logged something')
  const env = await docker('inspect', '--format', '{{json .Config.Env}}', name)
  const cached = await dockerResult(
    'exec',
    name,
    'grep',
    '-r',
    '-l',
    '-F',
    ...secretNeedles.flatMap((needle) => ['-e', needle]),
    '/var/cache/docker-cd',
  )
  t.equal(cached.code, 1, `grep finds no secret under /var/cache/docker-cd ${cached.stdout}`)
  for (const needle of secretNeedles) {
    t.notOk(logs.stdout.includes(needle) || logs.stderr.includes(needle), 'docker logs')
    t.notOk(
      responses.some((body) => body.includes(needle)),
      'HTTP responses',
    )
    t.notOk(env.includes(needle), 'container environment')
  }
  t.same(git.tokenLeaks, [], 'no process command line (host or container) held the token')
})

t.test('git timeouts leave no zombie processes behind (tini reaps them)', async (t) => {
  git.setHang(true)
  t.teardown(() => git.setHang(false))
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${base}/api/refresh?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}` },
    })
    t.match(await res.json(), { status: 'failed', message: /^timeout: / }, `timeout ${i + 1}`)
  }
  git.setHang(false)
  // Zombies are counted from inside: they have left the container's cgroup,
  // so `docker top` no longer lists them.
  const zombies = async () =>
    (
      await docker(
        'exec',
        name,
        'node',
        '-e',
        "const fs=require('fs');for(const p of fs.readdirSync('/proc').filter(d=>/^\\d+$/.test(d))){try{console.log(fs.readFileSync('/proc/'+p+'/stat','utf8'))}catch{}}",
      )
    )
      .split('\n')
      .filter((line) => /^\d+ \(.*\) Z /.test(line))
  const left = await waitFor(
    async () => {
      const found = await zombies()
      return found.length === 0 ? found : undefined
    },
    'every orphaned git helper to be reaped',
    15_000,
  ).catch(async () => zombies())
  t.same(left, [], 'no zombie (defunct) process in the container')
})

t.test('docker stop: SIGTERM exits 0 before the 10 s kill', async (t) => {
  const stopping = Date.now()
  await docker('stop', '--time', '10', name)
  t.comment(`docker stop took ${Date.now() - stopping} ms`)
  t.equal(await docker('inspect', '--format', '{{.State.ExitCode}}', name), '0')
  t.equal(await docker('inspect', '--format', '{{.State.OOMKilled}}', name), 'false')
})
