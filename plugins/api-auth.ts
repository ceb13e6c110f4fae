import fp from 'fastify-plugin'
import { errorResponses } from '../schemas/api.js'
import { bearerTokenMatches } from '../services/bearer-token.js'

// API_TOKEN: when set, every /api/* route except /api/webhook (which has its
// own signature) needs `Authorization: Bearer <API_TOKEN>`; otherwise 401
// with `WWW-Authenticate: Bearer`. `/`, `/healthz`, `/readyz`, `/metrics`
// and the API documentation stay open: probes and scrapers reach them
// without credentials, and none of them carries repository content.
// Repeated failures from one client are rate-limited (plugins/rate-limit.ts).

const PROTECTED = /^\/api\//
const OPEN = new Set(['/api/webhook'])

const isProtected = (url: string) => PROTECTED.test(url) && !OPEN.has(url)

export default fp(
  async (app) => {
    const token = app.config.apiToken

    // Marks protected routes in the OpenAPI document.
    app.addHook('onRoute', (route) => {
      if (!token || !isProtected(route.url) || !route.schema) return
      const response = route.schema.response as Record<number, unknown> | undefined
      route.schema = {
        ...route.schema,
        security: [{ bearerAuth: [] }],
        ...(response ? { response: { ...response, 401: errorResponses[401] } } : {}),
      }
    })

    if (!token) return
    app.addHook('onRequest', async (request, reply) => {
      if (!isProtected(request.url.split('?')[0] ?? '')) return
      await app.rejections.check(request)
      if (bearerTokenMatches(request.headers.authorization, token)) return
      await app.rejections.record(request)
      reply.header('www-authenticate', 'Bearer realm="docker-cd"')
      throw app.httpErrors.unauthorized(
        request.headers.authorization
          ? 'the API token does not match'
          : 'this route needs Authorization: Bearer <API_TOKEN>',
      )
    })
  },
  { name: 'api-auth', dependencies: ['config', 'sensible', 'rate-limit'] },
)
