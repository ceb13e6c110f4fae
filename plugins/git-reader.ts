import fp from 'fastify-plugin'
import type { DesiredStateServices } from '../services/refresh/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    gitReader: DesiredStateServices['gitReader']
  }
}

// The git reader over the bare mirror, built with the refresh controller
// (services/refresh/desired-state.ts) and shared with it: one reader per mirror.
export default fp<{ services: DesiredStateServices }>(
  async (app, options) => {
    app.decorate('gitReader', options.services.gitReader)
  },
  { name: 'git-reader', dependencies: ['config'] },
)
