import { join } from 'node:path'
import fp from 'fastify-plugin'
import { repositoryKey } from '../services/refresh/index.js'
import {
  createDeployRecords,
  createSyncReconciler,
  type SyncReconciler,
} from '../services/sync/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Applying (services/sync/): automatic with SYNC_MODE=apply, manual syncs in detect too; null with SYNC_MODE=off. */
    sync: SyncReconciler | null
  }
}

export type SyncPluginOptions = {
  /** Tests: shorter self-heal and retry back-offs than an operator wants. */
  healBackoff?: { initialMs: number; maxMs: number }
  retryBackoff?: { initialMs: number; maxMs: number }
}

// The reconciler takes over the stacks' statuses from the host monitor
// (plugins/host.ts hands them over): a check goes to it, it decides and
// writes the status through the refresh controller (the only writer of the
// snapshot), so /api/stacks, the event feed and metrics see deploys like
// any other change. Its `sync` events go to the event feed. Its deploy
// records live in GIT_CACHE_DIR, beside the mirror, keyed by repository.
export default fp<SyncPluginOptions>(
  async (app, options) => {
    const host = app.host
    if (!host) {
      app.decorate('sync', null)
      return
    }
    const { config } = app
    const records = createDeployRecords(
      join(
        config.gitCacheDir,
        `${repositoryKey(config.gitRepoUrl, config.gitDeployDir)}.deployments`,
      ),
      (error) => app.log.warn({ err: error }, 'deploy records'),
    )
    await records.load()
    const reconciler = createSyncReconciler({
      mode: config.syncMode === 'apply' ? 'apply' : 'detect',
      selfHeal: config.syncSelfHeal,
      adopt: config.syncAdopt,
      prune: config.syncPrune,
      waitSeconds: Math.max(1, Math.round(config.syncTimeoutMs / 1000)),
      stacksDir: config.stacksDir,
      current: () => app.desiredState.current(),
      monitor: host,
      workTrees: host.workTrees,
      compose: host.compose,
      engine: app.dockerEngine,
      records,
      git: app.gitReader,
      setStatus: (path, status, reason, health) =>
        app.desiredState.setStackStatus(path, status, reason, health),
      onEvent: (event) => app.eventFeed.publishSync(event),
      log: app.log,
      onFinished: (run) => app.metrics.syncSink.finished(run),
      ...(options.healBackoff ? { healBackoff: options.healBackoff } : {}),
      ...(options.retryBackoff ? { retryBackoff: options.retryBackoff } : {}),
    })
    host.handOver(reconciler)
    app.desiredState.observe(reconciler.observer)
    app.decorate('sync', reconciler)
  },
  {
    name: 'sync',
    dependencies: [
      'config',
      'host',
      'docker-engine',
      'git-reader',
      'desired-state',
      'event-feed',
      'metrics',
    ],
  },
)
