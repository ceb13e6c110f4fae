import pino from 'pino'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './schemas/config.js'
import { loggerOptions } from './services/logger.js'

// Process entry: configuration, logger, startup refresh, listen, and a
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
try {
  // Runs the startup refresh: repository, revision and deploy directory are
  // validated before the server listens.
  await app.ready()
} catch (error) {
  logger.error({ error: (error as Error).message }, 'startup failed')
  fail([(error as Error).message])
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

await app.listen({ port: config.port, host: config.host })
