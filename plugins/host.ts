import fp from 'fastify-plugin'
import type { HostMonitor, ImageFindings, StackRuntime, WorkTrees } from '../services/host/index.js'
import {
  createHostSync,
  type HostSync,
  type SyncReconciler,
  type SyncReconcilerOptions,
} from '../services/sync/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The host's view of each stack (SYNC_MODE=detect, apply); null with SYNC_MODE=off. */
    host:
      | (Pick<HostMonitor, 'state' | 'idle' | 'stackOfProject'> & {
          eventsConnected: () => boolean
          swarmNodes: HostSync['swarmNodes']
          projects: HostSync['projects']
          runtime: StackRuntime
          workTrees: WorkTrees
          /** The reconciler built with the monitor (plugins/sync.ts decorates it as `sync`). */
          reconciler: SyncReconciler
          /** Image updates: ask the registries now; what the last round found per stack. */
          checkImages: () => Promise<void>
          imageFindings: (path: string) => ImageFindings | undefined
        })
      | null
  }
}

export type HostPluginOptions = {
  /** The Compose binary (tests: a wrapper that records argv and environment). */
  composeCommand?: string
} & Partial<Pick<SyncReconcilerOptions, 'healBackoff' | 'retryBackoff'>>

// SYNC_MODE=detect or apply: the host side, built in one place
// (services/sync/host-sync.ts): each stack's work tree under STACKS_DIR,
// checked with Compose against the engine after refreshes and, live, after
// the engine's container events; the reconciler that turns checks into
// statuses and deploys. Statuses go into the desired state through the
// refresh controller (the only writer of the snapshot); sync runs go to the
// event feed, metrics, the notifier and the log as observers.
export default fp<HostPluginOptions>(
  async (app, options) => {
    if (app.config.syncMode === 'off') {
      app.decorate('host', null)
      return
    }
    const hostSync = await createHostSync({
      config: app.config,
      engine: app.dockerEngine,
      git: app.gitReader,
      current: () => app.desiredState.current(),
      setStatus: (path, status, reason, health) =>
        app.desiredState.setStackStatus(path, status, reason, health),
      log: app.log,
      observers: [app.metrics.syncObserver, app.eventFeed.syncObserver, app.notify.syncObserver],
      sink: app.metrics.hostSink,
      onEngine: { lost: app.notify.engineLost, back: app.notify.engineBack },
      ...options,
    })
    for (const observer of hostSync.refreshObservers) app.desiredState.observe(observer)
    // A failure told before a restart is not told again; the next success is its recovery.
    app.notify.rememberFailures(hostSync.reconciler.records())
    const { monitor } = hostSync
    app.decorate('host', {
      state: monitor.state,
      idle: monitor.idle,
      stackOfProject: monitor.stackOfProject,
      eventsConnected: hostSync.eventsConnected,
      swarmNodes: hostSync.swarmNodes,
      projects: hostSync.projects,
      runtime: hostSync.runtime,
      workTrees: hostSync.workTrees,
      reconciler: hostSync.reconciler,
      checkImages: hostSync.checkImages,
      imageFindings: hostSync.imageFindings,
    })
    app.addHook('preClose', () => hostSync.close())
  },
  {
    name: 'host',
    dependencies: [
      'config',
      'metrics',
      'docker-engine',
      'git-reader',
      'desired-state',
      'event-feed',
      'notify',
    ],
  },
)
