import fp from 'fastify-plugin'
import {
  createCompose,
  createEngineWatch,
  createHostMonitor,
  createWorkTrees,
  type HostMonitor,
} from '../services/host/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The host's view of each stack (SYNC_MODE=detect); null with SYNC_MODE=off. */
    host: (HostMonitor & { eventsConnected: () => boolean }) | null
  }
}

// SYNC_MODE=detect: each stack's work tree under STACKS_DIR, checked with
// Compose against the engine after refreshes and, live, after the engine's
// container events (services/host/). The status goes into the desired
// state through the refresh controller, so /api/stacks, the event feed,
// logs and metrics see it like any other status change. An engine or
// Compose that cannot be asked makes stacks `unknown` with the reason.
export default fp(
  async (app) => {
    if (app.config.syncMode === 'off') {
      app.decorate('host', null)
      return
    }
    const compose = createCompose({
      dockerHost: app.config.dockerHost,
      onRun: (asked) => app.metrics.hostSink.composeRun(asked),
    })
    const monitor = createHostMonitor({
      workTrees: createWorkTrees({ git: app.gitReader, stacksDir: app.config.stacksDir }),
      compose,
      engine: app.dockerEngine,
      current: () => app.desiredState.current(),
      setStatus: (path, status, reason, health) =>
        app.desiredState.setStackStatus(path, status, reason, health),
      onChecked: (state) => app.metrics.hostSink.checked(state),
      onError: (error, stack) => app.log.error({ err: error, stack }, 'host check failed'),
    })
    const watch = createEngineWatch({
      engine: app.dockerEngine,
      onProjects: (projects) => monitor.projectsChanged(projects),
      onLost(reason) {
        app.metrics.hostSink.engineLost()
        app.log.warn(`engine unreachable (${reason}): stacks are unknown until it answers again`)
        monitor.engineLost(reason)
      },
      onReconnected() {
        app.log.info('engine answers again: every stack is checked')
        monitor.recheckAll()
      },
    })
    compose
      .version()
      .catch((error: Error) =>
        app.log.warn(`SYNC_MODE=detect: ${error.message}; stacks read unknown until it is there`),
      )
    app.desiredState.observe(monitor.observer)
    app.decorate('host', { ...monitor, eventsConnected: watch.connected })
    app.addHook('preClose', async () => {
      await watch.close()
      await monitor.close()
    })
  },
  {
    name: 'host',
    dependencies: ['config', 'metrics', 'docker-engine', 'git-reader', 'desired-state'],
  },
)
