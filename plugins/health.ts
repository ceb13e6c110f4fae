import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'

// Liveness and load shedding from @fastify/under-pressure: `/healthz` answers
// 503 (and every route sheds load) while the event loop, heap or RSS are
// past their limits.
export default fp(
  async (app) => {
    await app.register(underPressure, {
      maxEventLoopDelay: 1000,
      maxHeapUsedBytes: 1024 * 1024 * 1024,
      maxRssBytes: 1536 * 1024 * 1024,
      retryAfter: 10,
      exposeStatusRoute: {
        url: '/healthz',
        routeOpts: {
          logLevel: 'warn',
          // The plugin ships a plain JSON schema the zod compiler rejects.
          serializerCompiler: () => (data: unknown) => JSON.stringify(data),
        },
        routeSchemaOpts: { hide: true },
      },
    })
  },
  { name: 'health' },
)
