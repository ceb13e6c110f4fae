import fp from 'fastify-plugin'
import {
  createCompose,
  createHostMonitor,
  createWorkTrees,
  type HostMonitor,
} from '../services/host/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The host's view of each stack (SYNC_MODE=detect); null with SYNC_MODE=off. */
    host: HostMonitor | null
  }
}

// SYNC_MODE=detect: each stack's work tree under STACKS_DIR, checked with
// Compose against the engine after refreshes (services/host/monitor.ts).
// The status goes into the desired state through the refresh controller,
// so /api/stacks, the event feed, logs and metrics see it like any other
// status change. An engine or Compose that cannot be asked makes stacks
// `unknown` with the reason, and is said once at startup at warn.
export default fp(
  async (app) => {
    if (app.config.syncMode === 'off') {
      app.decorate('host', null)
      return
    }
    const compose = createCompose({ dockerHost: `unix://${app.config.dockerSocket}` })
    const monitor = createHostMonitor({
      workTrees: createWorkTrees({ git: app.gitReader, stacksDir: app.config.stacksDir }),
      compose,
      socketPath: app.config.dockerSocket,
      current: () => app.desiredState.current(),
      setStatus: (path, status, reason) => app.desiredState.setStackStatus(path, status, reason),
      onError: (error, stack) => app.log.error({ err: error, stack }, 'host check failed'),
    })
    compose
      .version()
      .catch((error: Error) =>
        app.log.warn(`SYNC_MODE=detect: ${error.message}; stacks read unknown until it is there`),
      )
    app.desiredState.observe(monitor.observer)
    app.decorate('host', monitor)
    app.addHook('preClose', () => monitor.close())
  },
  { name: 'host', dependencies: ['config', 'git-reader', 'desired-state'] },
)
