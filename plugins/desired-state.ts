import fp from 'fastify-plugin'
import { describeRevision } from '../services/git-reader.js'
import { createRefreshController } from '../services/refresh-controller.js'
import { createRefreshLog } from '../services/refresh-log.js'
import { createRefreshSteps } from '../services/refresh-steps.js'

declare module 'fastify' {
  interface FastifyInstance {
    desiredState: ReturnType<typeof createRefreshController>
  }
}

export type DesiredStatePluginOptions = {
  /** First retry delay after a failed refresh; tests shorten or lengthen it. */
  backoffInitialMs?: number
}

// The desired state and the one service that refreshes it. The startup
// refresh is not run here (a hook would bound it by Fastify's plugin
// timeout): server.ts calls `desiredState.start()` once the app is ready.
export default fp<DesiredStatePluginOptions>(
  async (app, options) => {
    const { config, gitReader, metrics, log } = app
    const described = describeRevision(config.gitRevision)
    const controller = createRefreshController({
      runSteps: createRefreshSteps({ git: gitReader, deployDir: config.gitDeployDir }),
      // Until the first refresh a name is assumed to be a branch; the refresh corrects it.
      ref: described.ref,
      refType: described.commit ? 'commit' : 'branch',
      pollIntervalMs: config.refreshPollIntervalMs,
      backoffInitialMs: options.backoffInitialMs,
      observers: [createRefreshLog(log), metrics.refreshObserver],
      onObserverError: (error) => log.error({ err: error }, 'refresh observer failed'),
    })
    app.decorate('desiredState', controller)
    app.addHook('onClose', () => controller.close())
  },
  { name: 'desired-state', dependencies: ['config', 'git-reader', 'metrics'] },
)
