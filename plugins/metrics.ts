import fp from 'fastify-plugin'
import { createMetrics } from '../services/reporting/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ReturnType<typeof createMetrics>
  }
}

export default fp(
  async (app) => {
    app.decorate('metrics', createMetrics())
  },
  { name: 'metrics' },
)
