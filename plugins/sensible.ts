import sensible from '@fastify/sensible'
import fp from 'fastify-plugin'

// `app.httpErrors`: routes throw typed HTTP errors and the one error handler
// (plugins/error-handler.ts) shapes every body.
export default fp(
  async (app) => {
    await app.register(sensible)
  },
  { name: 'sensible' },
)
