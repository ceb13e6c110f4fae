import fp from 'fastify-plugin'
import type { DesiredStateServices } from '../services/refresh/index.js'
import { createRefreshLog } from '../services/refresh/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    desiredState: DesiredStateServices['controller']
  }
}

type DesiredStatePluginOptions = {
  services: DesiredStateServices
  /** Log refreshes through the app's logger (false when the caller already does). */
  logRefreshes: boolean
}

// The desired state and the one service that refreshes it (built in
// services/refresh/desired-state.ts). The startup refresh is not run here: a hook
// would bound it by Fastify's plugin timeout; `startApp` or main.ts runs it.
export default fp<DesiredStatePluginOptions>(
  async (app, options) => {
    const { controller } = options.services
    if (options.logRefreshes) controller.observe(createRefreshLog(app.log))
    controller.observe(app.metrics.refreshObserver)
    app.metrics.countStacksFrom(() => controller.current().stacks)
    app.decorate('desiredState', controller)
    // preClose, not onClose: the running git command is aborted before the
    // server waits for in-flight requests, so a `?wait=true` caller is
    // answered (503) at once instead of holding shutdown until GIT_TIMEOUT.
    app.addHook('preClose', () => controller.close())
    // Last: no git runs any more, so the private ssh key copy can go.
    app.addHook('onClose', async () => options.services.dispose())
  },
  { name: 'desired-state', dependencies: ['config', 'git-reader', 'metrics'] },
)
