import pino from 'pino'
import { buildApp, StartupError, startApp } from './app.js'
import { ConfigError, loadConfig } from './services/config.js'
import { loggerOptions } from './services/logger.js'

// Process entry: configuration, logger, listen, startup refresh, and a
// graceful shutdown on SIGTERM/SIGINT.

const SHUTDOWN_DEADLINE_MS = 10_000

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

const logger = pino(loggerOptions(config.logLevel))
if (!config.webhookSecret) {
  logger.warn('WEBHOOK_SECRET is not set: /api/webhook accepts unsigned deliveries')
}

const app = await buildApp({ config, loggerInstance: logger })

let closing = false
async function shutdown(signal: string, exitCode = 0) {
  if (closing) return
  closing = true
  logger.info({ signal }, 'shutting down')
  const deadline = setTimeout(() => {
    logger.error('shutdown deadline exceeded; exiting')
    process.exit(1)
  }, SHUTDOWN_DEADLINE_MS)
  deadline.unref()
  await app.close()
  process.exit(exitCode)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))

// Listen first: /healthz answers and /readyz says 503 while a long first
// fetch runs. Then the startup refresh validates repository access; a
// failure exits 1 with one line naming the category.
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
try {
  await startApp(app)
} catch (error) {
  if (closing) process.exit(0)
  const message = error instanceof StartupError ? error.message : (error as Error).message
  await app.close()
  fail([message])
}
