import fp from 'fastify-plugin'
import { z } from 'zod'
import { createLoadMonitor, type LoadMonitor } from '../services/base/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    health: LoadMonitor
  }
}

// Liveness and load shedding. While the event loop lags past its limit every
// route, `/healthz` included, answers 503 with `Retry-After` so a loaded
// process sheds work instead of queueing it (what @fastify/under-pressure
// did; it is not used because its memory sampling throws EMFILE out of a
// timer and kills the process when descriptors run out, and its memory
// limits cannot be turned off; see services/base/load-monitor.ts).

const RETRY_AFTER_SECONDS = 10

export type HealthOptions = { maxEventLoopDelayMs?: number }

const healthSchema = z
  .object({
    status: z.literal('ok'),
    eventLoopDelayMs: z.number(),
    eventLoopUtilization: z.number(),
    heapUsedBytes: z.number(),
    rssBytes: z.number().nullable().describe('null when the kernel could not be asked'),
  })
  .meta({ id: 'Health' })

export default fp<HealthOptions>(
  async (app, options) => {
    const monitor = createLoadMonitor({ maxEventLoopDelayMs: options.maxEventLoopDelayMs ?? 1000 })
    app.decorate('health', monitor)
    app.addHook('onClose', async () => monitor.close())

    app.addHook('onRequest', async () => {
      if (!monitor.isUnderPressure()) return
      throw app.httpErrors.createError(503, 'under pressure: the event loop is lagging', {
        expose: true,
        headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      })
    })

    app.get(
      '/healthz',
      {
        logLevel: 'warn',
        schema: {
          summary: 'Liveness: 200 unless the event loop lags (then 503, as every route)',
          response: { 200: healthSchema },
        },
      },
      async () => ({ status: 'ok' as const, ...monitor.latest() }),
    )
  },
  { name: 'health', dependencies: ['sensible', 'error-handler'] },
)
