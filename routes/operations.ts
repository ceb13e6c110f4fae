import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorSchema } from '../schemas/api.js'

// Operational endpoints: readiness, Prometheus metrics, the OpenAPI document.
// (Liveness, /healthz, lives with load shedding in plugins/health.ts.)
const operationsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/readyz',
    {
      logLevel: 'warn',
      schema: {
        summary: 'Readiness: 200 once the cache holds its first snapshot',
        response: {
          200: z.object({ status: z.literal('ready'), revision: z.string() }),
          503: errorSchema.describe('No snapshot yet'),
        },
      },
    },
    async () => {
      const { revision } = app.desiredState.current()
      if (!app.desiredState.isReady() || revision === null) {
        throw app.httpErrors.createError(503, 'the desired-state cache has no snapshot yet', {
          expose: true,
        })
      }
      return { status: 'ready' as const, revision }
    },
  )

  app.get(
    '/metrics',
    {
      logLevel: 'warn',
      schema: {
        summary: 'Prometheus metrics',
        produces: ['text/plain'],
        response: { 200: z.string().describe('Prometheus text exposition format') },
      },
    },
    async (_request, reply) => {
      reply.type(app.metrics.registry.contentType)
      return app.metrics.registry.metrics()
    },
  )

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default operationsRoutes
