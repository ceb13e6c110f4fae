import fp from 'fastify-plugin'
import { createNotifier, type Notifier } from '../services/notify/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Notifications (NOTIFY_URLS) and commit statuses (COMMIT_STATUS), fed by the observers. */
    notify: Notifier
  }
}

export type NotifyPluginOptions = Partial<
  Pick<
    Parameters<typeof createNotifier>[0],
    | 'send'
    | 'timeoutMs'
    | 'retries'
    | 'backoff'
    | 'commitStatusTimeoutMs'
    | 'commitStatusRetryDelayMs'
  >
>

// What is worth telling, told: the notifier (services/notify/notifier.ts)
// hears refreshes here and sync runs, drift and the engine through the host
// plugin, which hands it to the reconciler's observers. Its queue gets a
// short flush on shutdown, after the deploys have ended (their last words
// included).
export default fp<NotifyPluginOptions>(
  async (app, options) => {
    const notifier = createNotifier({
      settings: app.config,
      readCommit: async (sha) => (await app.gitReader.readByOid([sha])).get(sha),
      log: app.log,
      onResult: (result) => app.metrics.notifySink.delivered(result.channel, result.outcome),
      onCommitStatus: (result) => app.metrics.notifySink.commitStatus(result),
      ...options,
    })
    app.desiredState.observe(notifier.refreshObserver)
    app.decorate('notify', notifier)
    // preClose runs before the server waits for requests in flight: a
    // POST /api/notifications/test against a receiver that never answers
    // would otherwise hold shutdown for its whole attempt (10 s, main.ts's
    // whole shutdown deadline).
    app.addHook('preClose', async () => notifier.interruptTests())
    app.addHook('onClose', () => notifier.close())
  },
  { name: 'notify', dependencies: ['config', 'metrics', 'git-reader', 'desired-state'] },
)
