import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route as registered: method, URL, and whether it needs the API token. */
    routeTable: RouteEntry[]
  }
}

export type RouteEntry = { method: string; url: string; needsApiToken: boolean }

// Records every route as it is registered (after api-auth has decided its
// protection), so the status page and the tests list the app's real routes
// instead of a copy that goes stale when a route is added.
export default fp(
  async (app) => {
    const table: RouteEntry[] = []
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat())
        table.push({ method, url: route.url, needsApiToken: route.config?.needsApiToken === true })
    })
    app.decorate('routeTable', table)
  },
  { name: 'route-table', dependencies: ['api-auth'] },
)
