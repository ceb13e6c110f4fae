import pino from 'pino'
import {
  ConfigError,
  loadConfig,
  lockCacheDir,
  loggerOptions,
  WITHOUT_API_TOKEN,
} from './services/base/index.js'
import { notifierProblems } from './services/notify/index.js'
import { createDesiredState, createRefreshLog } from './services/refresh/index.js'
import { ageKeyProblems } from './services/secrets/index.js'

// The service's main sequence (server.ts loads it): configuration, logger,
// startup refresh, listen, and a graceful shutdown on SIGTERM/SIGINT.

// A running deploy gets 7 s to finish, then Compose gets SIGTERM and, 5 s
// later, SIGKILL; the records are flushed after that. The deadline leaves
// room for all of it (compose.yaml's stop_grace_period and the systemd
// unit's TimeoutStopSec are longer still).
const SHUTDOWN_DEADLINE_MS = 14_000

function fail(lines: string[]): never {
  for (const line of lines) process.stderr.write(`docker-cd: ${line}\n`)
  process.exit(1)
}

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env)
} catch (error) {
  if (error instanceof ConfigError)
    fail(error.problems.map((problem) => `configuration: ${problem}`))
  throw error
}
// The age identities read as sops reads them (a line is named, never shown).
// Notification URLs and the commit-status host, one line per problem (no URL or token shown).
const keyProblems = [...ageKeyProblems(config), ...notifierProblems(config)]
if (keyProblems.length > 0) fail(keyProblems.map((problem) => `configuration: ${problem}`))

const logger = pino(loggerOptions(config.logLevel))
if (!config.webhookSecret) {
  logger.warn(
    'WEBHOOK_SECRET is not set: /api/webhook accepts unsigned deliveries, so anyone who can reach the port can make the service fetch from the Git host again and again (as often as REFRESH_RATE_LIMIT allows)',
  )
}
if (!config.apiToken) {
  logger.warn(WITHOUT_API_TOKEN)
}

// One instance per cache dir (services/base/cache-lock.ts), released on any exit.
let releaseCacheDir: () => void
try {
  releaseCacheDir = await lockCacheDir(config.gitCacheDir, (error) => {
    logger.error({ err: error }, 'the cache dir lock was lost')
    fail([`the lock on GIT_CACHE_DIR ${config.gitCacheDir} was lost: ${error.message}`])
  })
} catch (error) {
  fail([(error as Error).message])
}
process.once('exit', () => releaseCacheDir())

// The startup refresh validates repository, revision and deploy directory.
// It starts before the web framework is loaded (git works while Node
// compiles Fastify) and is bounded by GIT_TIMEOUT per git command only,
// never by a framework hook: a first fetch of minutes still starts.
const desiredState = createDesiredState(config, {
  warn: (error) => logger.warn({ err: error }, 'stack history'),
  observers: [createRefreshLog(logger)],
  onObserverError: (error) => logger.error({ err: error }, 'refresh observer failed'),
})
const startup = desiredState.controller.start()

const { buildApp, StartupError } = await import('./app.js')
const { TargetRefused } = await import('./services/host/index.js')
let app: Awaited<ReturnType<typeof buildApp>>
try {
  app = await buildApp({ config, loggerInstance: logger, desiredState })
} catch (error) {
  // SYNC_TARGET asks for what the engine is not (a Swarm worker): one line, exit 1.
  if (error instanceof TargetRefused) fail([error.message])
  throw error
}

let closing = false
async function shutdown(signal: string) {
  if (closing) return
  closing = true
  logger.info({ signal }, 'shutting down')
  const deadline = setTimeout(() => {
    logger.error('shutdown deadline exceeded; exiting')
    process.exit(1)
  }, SHUTDOWN_DEADLINE_MS)
  deadline.unref()
  await app.close()
  process.exit(0)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))

// Listen while the startup refresh runs: /healthz answers and /readyz says
// 503 until the first snapshot exists.
try {
  await app.listen({ port: config.port, host: config.host })
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code
  const reason =
    code === 'EADDRINUSE'
      ? `port ${config.port} on ${config.host} is already in use; set PORT= to another port`
      : (error as Error).message
  await app.close()
  fail([`cannot listen: ${reason}`])
}
const outcome = await startup
if (outcome.status === 'failed' && !closing) {
  await app.close()
  fail([new StartupError(outcome).message])
}
