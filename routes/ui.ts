import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { assetNamed, renderStackList } from '../services/ui/index.js'

// The dashboard: GET /ui (every stack, server-rendered, kept live by a
// small script on /api/events) and its content-hashed assets. With
// API_TOKEN set the page needs a login this version does not have yet, so
// it says so instead of showing what the API protects.
const uiRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/ui',
    {
      schema: {
        summary: 'Dashboard: every stack, live',
        produces: ['text/html'],
        response: { 200: z.string(), 401: z.string() },
      },
    },
    async (_request, reply) => {
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
      if (app.config.apiToken)
        return reply
          .code(401)
          .send(
            '<!doctype html><meta charset="utf-8"><title>docker-cd</title><p>This dashboard has no login yet, and API_TOKEN protects what it would show. Use the API with the token (curl -H "Authorization: Bearer …" /api/stacks), or run without API_TOKEN on a trusted network.</p>',
          )
      return renderStackList(
        app.config,
        app.desiredState.current(),
        (path) => app.sync?.reasonOf(path) ?? app.host?.state(path)?.reason,
      )
    },
  )

  app.get(
    '/ui/assets/:file',
    {
      schema: {
        hide: true,
        params: z.object({ file: z.string() }),
      },
    },
    async (request, reply) => {
      const asset = assetNamed(request.params.file)
      if (!asset) throw app.httpErrors.notFound(`no asset "${request.params.file}"`)
      // The name holds the content's hash: a new build is a new name.
      reply.type(asset.type).header('cache-control', 'public, max-age=31536000, immutable')
      return asset.body
    },
  )
}

export default uiRoutes
