import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { countRunningContainers } from '../services/host/index.js'
import { renderStatusPage } from '../services/reporting/index.js'

// GET /: plain text for humans and `curl`. Always 200.
const statusPageRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/',
    {
      schema: {
        summary: 'Plain-text status page',
        produces: ['text/plain'],
        response: { 200: z.string().describe('Human-readable status') },
      },
    },
    async (_request, reply) => {
      const containers = await countRunningContainers(app.config.dockerSocket)
      reply.type('text/plain; charset=utf-8')
      return renderStatusPage(app.config, app.desiredState.current(), containers)
    },
  )
}

export default statusPageRoutes
