import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { acceptedMessage, errorResponses, refreshQuerySchema } from '../schemas/api.js'
import {
  refreshAcceptedSchema,
  refreshFinishedSchema,
  refreshStatusSchema,
} from '../schemas/refresh.js'

// POST /api/refresh (manual refresh) and GET /api/refresh-status.
const refreshRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/api/refresh',
    {
      schema: {
        tags: ['refresh'],
        summary: 'Refresh the cache from Git now',
        description:
          'Enqueues a manual refresh and answers at once (`refreshing` or `queued`). With `?wait=true`, answers when the refresh that covers this request has finished (`completed` or `failed`).',
        querystring: refreshQuerySchema,
        response: {
          200: z.union([refreshAcceptedSchema, refreshFinishedSchema]),
          400: errorResponses[400],
          500: errorResponses[500],
        },
      },
    },
    async (request) => {
      const { status, done } = app.refreshQueue.enqueue('manual')
      if (!request.query.wait) {
        return { status, message: acceptedMessage(status) }
      }
      const outcome = await done
      const snapshot = app.desiredState.current()
      return outcome.status === 'completed'
        ? {
            status: 'completed' as const,
            message: 'refresh completed',
            revision: outcome.result.revision,
          }
        : {
            status: 'failed' as const,
            message: snapshot.refreshError ?? 'refresh failed',
            revision: snapshot.revision,
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
      return { revision, ref, refType, refreshedAt, refreshStatus, refreshError, trigger }
    },
  )
}

export default refreshRoutes
