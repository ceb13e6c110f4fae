import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errorResponses } from '../schemas/api.js'
import { stackNameParamsSchema } from '../schemas/stack.js'
import { syncAcceptedSchema, syncFinishedSchema, syncQuerySchema } from '../schemas/sync.js'
import { noSuchStack, stackAt } from '../services/content/index.js'

// POST /api/stacks/{name}/sync: the operator asks for one stack to be
// applied now (also a stack that failed, or a project docker-cd did not
// deploy: asking hands it over). It changes the host, so it exists only
// behind the API token: without API_TOKEN it is refused, whoever asks.
const syncRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/api/stacks/:name/sync',
    {
      bodyLimit: 64,
      schema: {
        tags: ['sync'],
        summary: 'Apply one stack now (manual sync)',
        description:
          'Queues a sync of the stack at the cached revision: validate (`docker compose config -q`), pull what is missing, `up -d --remove-orphans --wait`, read back; on failure the last good tree is applied again. Answers at once (`syncing`, or `queued` behind the running one); with `?wait=true` when that sync has finished (`completed` or `failed`, with `rolledBackTo` when the last good tree runs again). Works with SYNC_MODE=detect and apply. Refused with 403 unless API_TOKEN is configured (it changes the host), 409 with SYNC_MODE=off.',
        params: stackNameParamsSchema,
        querystring: syncQuerySchema,
        response: {
          200: syncFinishedSchema,
          202: syncAcceptedSchema,
          400: errorResponses[400],
          403: errorResponses[400].describe('API_TOKEN is not configured: manual sync is off'),
          404: errorResponses[404],
          409: errorResponses[400].describe('SYNC_MODE=off: docker-cd does not touch the host'),
          413: errorResponses[413],
          500: errorResponses[500],
          503: errorResponses[503],
        },
      },
    },
    async (request, reply) => {
      if (!app.config.apiToken)
        throw app.httpErrors.forbidden(
          'manual sync changes the host: it needs API_TOKEN configured (and sent as a Bearer token)',
        )
      if (!app.sync)
        throw app.httpErrors.conflict('SYNC_MODE=off: docker-cd does not touch the host')
      const found = stackAt(app.desiredState.current(), request.params.name)
      if (!found) throw app.httpErrors.notFound(noSuchStack(request.params.name))
      const { stack } = found
      const { status, done } = app.sync.requestSync(stack.path)
      request.log.info({ stack: stack.path, status }, 'manual sync requested')
      if (!request.query.wait)
        return reply.code(202).send({
          status,
          message:
            status === 'syncing'
              ? `sync of ${stack.path} started`
              : `sync of ${stack.path} queued behind the running one`,
        })
      const answer = await done
      if (answer.message === 'docker-cd is shutting down')
        throw app.httpErrors.createError(503, 'shutting down: the sync did not run', {
          expose: true,
        })
      return answer
    },
  )
}

export default syncRoutes
