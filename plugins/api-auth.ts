import fp from 'fastify-plugin'
import { errorResponses } from '../schemas/api.js'
import { bearerTokenMatches, CSRF_HEADER, sessionCookieMatches } from '../services/base/index.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `true` on an /api route that carries its own proof instead of the API
     * token (the webhook's signature). Every other /api route is protected.
     */
    publicApi?: boolean
    /** Set by this plugin when the route is registered: does it need the token? */
    needsApiToken?: boolean
  }
}

// API_TOKEN: when set, every route registered under /api/ needs
// `Authorization: Bearer <API_TOKEN>` (otherwise 401 with
// `WWW-Authenticate: Bearer`) or the dashboard's session cookie (with a
// same-origin header on state-changing requests: CSRF), unless it says `config.publicApi` (the
// webhook, which has its own signature). `/`, `/healthz`, `/readyz`,
// `/metrics` and the API documentation stay open: probes and scrapers reach
// them without credentials, and none of them carries repository content.
// Repeated failures from one client are rate-limited (plugins/rate-limit.ts).
//
// Protection is decided when a route is registered, from the URL it was
// registered with, and read back from the route the router matched — never
// from the request line. The raw URL is not what the router matches: it
// decodes percent-escapes (`/%61pi/stacks` is `/api/stacks`) and accepts
// absolute-form targets (`GET http://x/api/stacks`), so a pattern over the
// raw URL let both through. A route added later is protected by default.

const needsToken = (url: string, config: { publicApi?: boolean } | undefined) =>
  url.startsWith('/api/') && config?.publicApi !== true

export default fp(
  async (app) => {
    const token = app.config.apiToken

    app.addHook('onRoute', (route) => {
      const protectedRoute = needsToken(route.url, route.config)
      route.config = { ...route.config, needsApiToken: protectedRoute }
      // Marks protected routes in the OpenAPI document.
      if (!token || !protectedRoute || !route.schema) return
      const response = route.schema.response as Record<number, unknown> | undefined
      route.schema = {
        ...route.schema,
        security: [{ bearerAuth: [] }],
        ...(response ? { response: { ...response, 401: errorResponses[401] } } : {}),
      }
    })

    if (!token) return
    app.addHook('onRequest', async (request, reply) => {
      // Unmatched requests (404) carry no content and need no token.
      if (request.routeOptions.config.needsApiToken !== true) return
      await app.rejections.check(request)
      if (bearerTokenMatches(request.headers.authorization, token)) return
      // The dashboard's session cookie (services/base/session-cookie.ts);
      // a state-changing request must show it comes from the dashboard's own page.
      if (!request.headers.authorization && sessionCookieMatches(request.headers.cookie, token)) {
        if (['GET', 'HEAD'].includes(request.method) || request.headers[CSRF_HEADER] === '1') return
        throw app.httpErrors.forbidden(
          `a state-changing request authenticated by the session cookie needs the header ${CSRF_HEADER}: 1 (sent by the dashboard's own page)`,
        )
      }
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
