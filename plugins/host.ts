import fp from 'fastify-plugin'
import { scrubSecrets } from '../services/base/index.js'
import {
  type Compose,
  createCompose,
  createEngineWatch,
  createHostMonitor,
  createWorkTrees,
  type HostCheck,
  type HostMonitor,
  type WorkTrees,
} from '../services/host/index.js'

/** Who turns a host check into the stack's status (the reconciler, once it is there). */
export type StatusOwner = {
  hostChecked(path: string, check: HostCheck): void
  treeFor(path: string, snapshotTree: string): string
  /** Stops before the monitor does (a deploy finishes against a live monitor). */
  close(): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The host's view of each stack (SYNC_MODE=detect, apply); null with SYNC_MODE=off. */
    host:
      | (HostMonitor & {
          eventsConnected: () => boolean
          compose: Compose
          workTrees: WorkTrees
          /** Hands the stacks' statuses to `owner` (plugins/sync.ts). */
          handOver(owner: StatusOwner): void
        })
      | null
  }
}

// SYNC_MODE=detect or apply: each stack's work tree under STACKS_DIR, checked with
// Compose against the engine after refreshes and, live, after the engine's
// container events (services/host/). The status goes into the desired
// state through the refresh controller, so /api/stacks, the event feed,
// logs and metrics see it like any other status change. An engine or
// Compose that cannot be asked makes stacks `unknown` with the reason.
export default fp<{ composeCommand?: string }>(
  async (app, options) => {
    if (app.config.syncMode === 'off') {
      app.decorate('host', null)
      return
    }
    const compose = createCompose({
      dockerHost: app.config.dockerHost,
      ...(options.composeCommand ? { command: options.composeCommand } : {}),
      onRun: (asked) => app.metrics.hostSink.composeRun(asked),
      scrub: scrubSecrets(app.config),
    })
    const workTrees = createWorkTrees({ git: app.gitReader, stacksDir: app.config.stacksDir })
    // Until the reconciler takes over, a check is the stack's status.
    let owner: StatusOwner | undefined
    const monitor = createHostMonitor({
      workTrees,
      compose,
      engine: app.dockerEngine,
      current: () => app.desiredState.current(),
      onState: (path, check) =>
        owner
          ? owner.hostChecked(path, check)
          : app.desiredState.setStackStatus(path, check.status, check.reason, check.health),
      treeFor: (path, tree) => owner?.treeFor(path, tree) ?? tree,
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
        app.log.warn(
          `SYNC_MODE=${app.config.syncMode}: ${error.message}; stacks read unknown until it is there`,
        ),
      )
    app.desiredState.observe(monitor.observer)
    app.decorate('host', {
      ...monitor,
      eventsConnected: watch.connected,
      compose,
      workTrees,
      handOver(next: StatusOwner) {
        owner = next
      },
    })
    app.addHook('preClose', async () => {
      await owner?.close()
      await watch.close()
      // Any Compose still running (a check) is stopped, SIGKILLed after the grace: none outlives the service.
      await Promise.all([monitor.close(), compose.close()])
    })
  },
  {
    name: 'host',
    dependencies: ['config', 'metrics', 'docker-engine', 'git-reader', 'desired-state'],
  },
)
