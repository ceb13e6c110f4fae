import fp from 'fastify-plugin'
import { createEngine, type Engine } from '../services/host/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Docker Engine API at DOCKER_HOST (reads only). */
    dockerEngine: Engine
  }
}

// One engine client for the whole process, also with SYNC_MODE=off (the
// status page counts running containers). It connects on first use, so an
// absent engine costs nothing until something asks.
export default fp(
  async (app) => {
    const engine = createEngine({
      dockerHost: app.config.dockerHost,
      source: app.config.dockerHostSource,
    })
    app.decorate('dockerEngine', engine)
    app.addHook('onClose', () => engine.close())
  },
  { name: 'docker-engine', dependencies: ['config'] },
)
