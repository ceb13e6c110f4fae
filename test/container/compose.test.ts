import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { configEnvSchema } from '../../schemas/config.js'
import { loadConfig } from '../../services/base/config.js'
import { tempDir } from '../helpers/temp-dir.js'

// compose.yaml and .env.example, as Compose v2 (Debian trixie's
// docker-compose, installed by scripts/ensure-docker-engine.sh) reads them. The
// environment is cleared so a variable set on this machine (GIT_SSL_CAINFO,
// say) cannot leak into the rendered file.

const root = join(import.meta.dirname, '..', '..')
const execFileAsync = promisify(execFile)
const compose = (envFile: string, env: Record<string, string> = {}) =>
  execFileAsync(
    'docker',
    ['compose', '--project-directory', root, '--env-file', envFile, '-f', 'compose.yaml', 'config'],
    { cwd: root, env: { PATH: process.env.PATH, ...env } },
  )

t.test('compose.yaml with .env.example validates and renders the intended service', async (t) => {
  const { stdout } = await compose(join(root, '.env.example'))
  const service = parse(stdout).services['docker-cd']
  t.equal(service.restart, 'unless-stopped')
  t.equal(service.init, true, 'an init process reaps orphaned git helpers')
  t.match(service.build, { context: root })
  t.same(
    service.ports.map((p: { published: number | string; target: number }) => [
      Number(p.published),
      p.target,
    ]),
    [[8080, 8080]],
  )
  // Compose v2 renders volumes in the long syntax.
  type Volume = { type: string; source: string; target: string; read_only?: boolean }
  const volumes = service.volumes as Volume[]
  t.ok(
    volumes.some(
      (v) =>
        v.source === '/var/run/docker.sock' &&
        v.target === '/var/run/docker.sock' &&
        v.read_only === true,
    ),
    'socket read-only',
  )
  t.ok(
    volumes.some(
      (v) => v.type === 'volume' && v.source === 'git-cache' && v.target === '/var/cache/docker-cd',
    ),
    'named cache volume',
  )
  t.ok('git-cache' in parse(stdout).volumes)
  t.ok(
    volumes.some(
      (v) =>
        v.type === 'bind' &&
        v.source === '/var/lib/docker-cd/stacks' &&
        v.target === '/var/lib/docker-cd/stacks',
    ),
    'STACKS_DIR at the same path on the host',
  )
  t.equal(service.environment.STACKS_DIR, '/var/lib/docker-cd/stacks')
  t.ok(
    volumes.some(
      (v) =>
        v.type === 'bind' &&
        v.source === '/run/docker-cd/secrets' &&
        v.target === '/run/docker-cd/secrets',
    ),
    "SECRETS_DIR at the same path on the host's /run (a tmpfs)",
  )
  t.equal(service.environment.SECRETS_DIR, '/run/docker-cd/secrets')
  t.equal(service.environment.SYNC_MODE, 'detect')
  t.match(service.healthcheck.test.join(' '), /\/healthz/)
  t.equal(service.environment.REFRESH_POLL_INTERVAL, '5m')
  t.equal(service.environment.GIT_REVISION, 'main')
  t.equal(service.environment.GIT_CACHE_DIR, '/var/cache/docker-cd')

  // Every variable of the configuration table reaches the container.
  const variables = [
    ...Object.keys(configEnvSchema.shape),
    'GIT_ACCESS_TOKEN_FILE',
    'WEBHOOK_SECRET_FILE',
    'API_TOKEN_FILE',
    'NOTIFY_URLS_FILE',
    'COMMIT_STATUS_TOKEN_FILE',
  ]
  for (const name of variables) t.ok(name in service.environment, `${name} is passed`)

  // What the container would see is a valid configuration (empty = unset).
  const config = loadConfig(
    Object.fromEntries(Object.entries(service.environment).map(([k, v]) => [k, String(v)])),
  )
  t.match(config, { refreshPollIntervalMs: 300_000, gitAccessToken: undefined, gitDeployDir: '' })
})

t.test('without GIT_REPO_URL, Compose says what to set', async (t) => {
  const empty = join(tempDir('docker-cd-env-'), '.env')
  writeFileSync(empty, '')
  const failed = await compose(empty).then(
    () => ({ stderr: '' }),
    (error: { stderr: string }) => error,
  )
  t.match(failed.stderr, /set GIT_REPO_URL in \.env/)
})
