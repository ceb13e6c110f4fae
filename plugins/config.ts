import fp from 'fastify-plugin'
import type { Config } from '../schemas/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

// The parsed configuration, loaded once by server.ts (or a test) and shared.
export default fp<{ config: Config }>(
  async (app, options) => {
    app.decorate('config', options.config)
  },
  { name: 'config' },
)
