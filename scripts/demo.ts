// `npm run demo`: serves examples/ as a Git repository over loopback HTTPS
// (git http-backend, self-signed certificate, token check) and runs the real
// service against it: same config loading, git reader and API as
// production; only the Git server is local. Everything it creates (cache,
// work tree, certificate and key) lives in temp dirs removed on exit.
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { buildApp, startApp } from '../app.js'
import { loadConfig, loggerOptions } from '../services/base/index.js'
import { createFixtureRepo } from '../test/helpers/git-fixture.js'
import { startGitServer } from '../test/helpers/git-server.js'
import { removeTempDirs, tempDir } from '../test/helpers/temp-dir.js'

const port = Number(process.env.PORT ?? 8080)
const token = `demo-${Math.random().toString(36).slice(2)}`
const gitServer = await startGitServer({ token })
const repo = createFixtureRepo(gitServer, { name: 'examples' })
cpSync(join(import.meta.dirname, '..', 'examples'), repo.workDir, { recursive: true })
repo.commitAndPush('bundled examples')

const config = loadConfig({
  GIT_REPO_URL: repo.url,
  GIT_REVISION: 'main',
  GIT_ACCESS_TOKEN: token,
  GIT_SSL_CAINFO: gitServer.caFile,
  GIT_CACHE_DIR: tempDir('docker-cd-demo-cache-'),
  REFRESH_POLL_INTERVAL: process.env.REFRESH_POLL_INTERVAL ?? '30s',
  WEBHOOK_SECRET: 'demo-secret',
  PROJECT_NAME: 'Docker-CD demo',
  PORT: String(port),
  HOST: '127.0.0.1',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
})
// Readable log lines for a person at a terminal, even when piped.
const logger = pino({ ...loggerOptions(config.logLevel), transport: { target: 'pino-pretty' } })
const app = await buildApp({ config, loggerInstance: logger })

const stop = async (code = 0) => {
  await app.close()
  await gitServer.close()
  removeTempDirs()
  process.exit(code)
}
process.once('SIGINT', () => void stop())
process.once('SIGTERM', () => void stop())

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

process.stdout.write(`
docker-cd demo is running at ${base}
It reads ${repo.url} (the bundled examples/, served over HTTPS on loopback).
Host: each stack is compared with the Docker engine at ${config.dockerHost} via Compose
(SYNC_MODE=detect; stacks not deployed read missing), live from the engine's events: deploy
one by hand (cd ${config.stacksDir}/web && docker compose up -d) and watch it turn synced.
With no engine or no Compose v2 here, stacks read unknown and /api/stacks/<name> says why.
docker-cd itself deploys nothing here: the examples' images come from Docker Hub. Applying
(SYNC_MODE=apply, and manual syncs with API_TOKEN set) is described in the README.
Dashboard: open ${base}/ui in a browser (live; a stack's page shows its files and plan).

Try:
  curl ${base}/
  curl ${base}/api/stacks
  curl ${base}/api/stacks/web
  curl ${base}/api/stacks/web/compose
  curl ${base}/api/host   (the engine and every Compose project on it)
  curl -s ${base}/api/stacks/web/archive | tar tzvf -
  curl -N ${base}/api/events   (the live change feed: refresh from another terminal)
  curl ${base}/api/refresh-status
  curl -X POST ${base}/api/refresh
  curl -X POST '${base}/api/refresh?wait=true'
  curl ${base}/readyz ${base}/healthz
  curl ${base}/metrics
  open ${base}/docs (OpenAPI UI) or curl ${base}/openapi.json

Change an example and refresh:
  cd ${repo.workDir}
  mkdir -p blog && printf 'services:\\n  blog:\\n    image: ghost:5\\n' > blog/compose.yaml
  git add -A && git -c user.name=demo -c user.email=demo@example.test commit -m 'add blog' && git push -q origin HEAD:main
  curl -X POST '${base}/api/refresh?wait=true'; echo; curl ${base}/api/stacks; echo

Signed webhook (secret "demo-secret"):
  body='{"ref":"refs/heads/main"}'
  sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac demo-secret | sed 's/.* //')
  curl -X POST ${base}/api/webhook -H 'content-type: application/json' -H 'x-github-event: push' -H "x-hub-signature-256: sha256=$sig" -d "$body"

Polling every ${config.refreshPollIntervalMs / 1000}s as well. Logs at LOG_LEVEL=${config.logLevel}
(LOG_LEVEL=info npm run demo shows every refresh). Ctrl-C stops the demo and
removes its temporary files.
`)
