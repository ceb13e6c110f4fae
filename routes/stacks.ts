import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errorResponses } from '../schemas/api.js'
import { stackListSchema } from '../schemas/stack.js'

// GET /api/stacks: the cached stacks, sorted by path.
const stackRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/api/stacks',
    {
      schema: {
        tags: ['state'],
        summary: 'Stacks of the desired state',
        response: { 200: stackListSchema, 500: errorResponses[500] },
      },
    },
    async () =>
      app.desiredState.current().stacks.map(({ path, composeFile, composeHash, status }) => ({
        path,
        composeFile,
        composeHash,
        status,
      })),
  )
}

export default stackRoutes
