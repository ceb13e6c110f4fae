import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { hostOverview } from '../services/host/index.js'
import { renderStatusPage } from '../services/reporting/index.js'

// GET /: plain text for humans and `curl`. Always 200.
const statusPageRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/',
    {
      schema: {
        summary: 'Plain-text status page',
        produces: ['text/plain'],
        response: {
          200: z.string().describe('Human-readable status'),
          302: z.null().describe('To /ui, for a client that accepts text/html'),
        },
      },
    },
    async (request, reply) => {
      // A browser (it asks for HTML) goes to the dashboard; curl keeps this page.
      if (/\btext\/html\b/.test(request.headers.accept ?? '')) return reply.redirect('/ui', 302)
      const host = app.host
      const [containers, overview] = await Promise.all([
        app.dockerEngine.countRunning(),
        host
          ? hostOverview({
              engine: app.dockerEngine,
              stackOf: (project) => host.stackOfProject(project),
              projects: host.projects,
              swarmNodes: host.swarmNodes,
            })
          : undefined,
      ])
      reply.type('text/plain; charset=utf-8')
      return renderStatusPage(app.config, app.desiredState.current(), {
        containers,
        notifications: app.notify.status(),
        ...(overview && host
          ? {
              overview,
              // Public even with API_TOKEN set: no reason (it can quote files).
              reasonsHidden: app.config.apiToken !== undefined,
              removed: app.sync?.removed() ?? [],
            }
          : {}),
      })
    },
  )
}

export default statusPageRoutes
