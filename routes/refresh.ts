import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { acceptedMessage, errorResponses, refreshQuerySchema } from '../schemas/api.js'
import {
  refreshAcceptedSchema,
  refreshFinishedSchema,
  refreshStatusSchema,
} from '../schemas/refresh.js'
import { NO_CHANGES } from '../services/refresh/index.js'

// POST /api/refresh (manual refresh) and GET /api/refresh-status.
const refreshRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/api/refresh',
    {
      // The route takes no body: anything past a few bytes is refused (413)
      // before it is read, let alone parsed.
      bodyLimit: 64,
      schema: {
        tags: ['refresh'],
        summary: 'Refresh the cache from Git now',
        description:
          'Enqueues a manual refresh and answers at once (`refreshing` or `queued`). With `?wait=true`, answers when the refresh that covers this request has finished (`completed` or `failed`). Never refused for coming often: starts are paced (REFRESH_RATE_LIMIT, 30 at once then 30 a minute by default), and a request that arrives while the pace holds starts back waits in the one coalescing slot (`queued`).',
        querystring: refreshQuerySchema,
        response: {
          200: z.union([refreshAcceptedSchema, refreshFinishedSchema]),
          400: errorResponses[400],
          413: errorResponses[413],
          429: errorResponses[429].describe(
            'Too many rejected requests (wrong API token) from this client',
          ),
          500: errorResponses[500],
          503: errorResponses[503],
        },
      },
    },
    async (request) => {
      const { status, done } = app.desiredState.refresh('manual')
      if (!request.query.wait) return { status, message: acceptedMessage(status) }
      const outcome = await done
      if (outcome.error?.reason === 'aborted')
        throw app.httpErrors.createError(503, `shutting down: ${outcome.message}`, { expose: true })
      return {
        status: outcome.status,
        message: outcome.message,
        revision: outcome.revision,
        changes: outcome.changes,
      }
    },
  )

  app.get(
    '/api/refresh-status',
    {
      schema: {
        tags: ['state'],
        summary: 'State of the cache and of the latest refresh',
        response: { 200: refreshStatusSchema, 500: errorResponses[500] },
      },
    },
    async () => {
      const { revision, ref, refType, refreshedAt, refreshStatus, refreshError, trigger } =
        app.desiredState.current()
      const changes = app.desiredState.lastOutcome()?.changes ?? NO_CHANGES
      return { revision, ref, refType, refreshedAt, refreshStatus, refreshError, trigger, changes }
    },
  )
}

export default refreshRoutes
