import fp from 'fastify-plugin'
import { createDesiredStateRefresh, type RefreshResult } from '../services/desired-state-refresh.js'
import { GitError } from '../services/git-command.js'
import { createRefreshQueue } from '../services/refresh-queue.js'
import { createRefreshScheduler } from '../services/refresh-scheduler.js'

declare module 'fastify' {
  interface FastifyInstance {
    refreshQueue: ReturnType<typeof createRefreshQueue<RefreshResult>>
  }
}

export type RefreshQueuePluginOptions = {
  /** Run the `startup` refresh in onReady and fail `ready()` when it fails (default true). */
  refreshOnStartup?: boolean
  /** Backoff after failures; tests shorten it. */
  backoffInitialMs?: number
}

export default fp<RefreshQueuePluginOptions>(
  async (app, options) => {
    const { desiredState, gitReader, metrics, config, log } = app
    const refresh = createDesiredStateRefresh({
      git: gitReader,
      store: desiredState,
      deployDir: config.gitDeployDir,
    })
    const describeError = (error: unknown) =>
      error instanceof GitError
        ? error.message
        : gitReader.scrub(String((error as Error)?.message ?? error))

    const scheduler = createRefreshScheduler({
      intervalMs: config.refreshPollIntervalMs,
      backoffInitialMs: options.backoffInitialMs,
      enqueue: (trigger) => queue.enqueue(trigger),
    })

    const queue = createRefreshQueue<RefreshResult>({
      run: refresh,
      onStart(trigger) {
        desiredState.markPending('refreshing', trigger)
        log.info({ trigger }, 'refresh started')
      },
      onFinish(outcome) {
        const snapshot = desiredState.current()
        if (outcome.status === 'completed') {
          const { result } = outcome
          metrics.observeRefresh(outcome.trigger, 'completed', outcome.durationMs, {
            revision: result.revision,
            ref: snapshot.ref,
            refType: snapshot.refType,
            stackCount: result.stackCount,
          })
          log.info(
            {
              trigger: outcome.trigger,
              revision: result.revision,
              stacks: result.stackCount,
              changed: result.changed,
              hashed: result.hashed,
              durationMs: Math.round(outcome.durationMs),
            },
            'refresh finished',
          )
        } else {
          const message = describeError(outcome.error)
          desiredState.markFailed(message, outcome.trigger)
          metrics.observeRefresh(outcome.trigger, 'failed', outcome.durationMs)
          log.error(
            {
              trigger: outcome.trigger,
              error: message,
              durationMs: Math.round(outcome.durationMs),
            },
            'refresh failed; keeping the last good state',
          )
        }
        scheduler.refreshFinished(outcome.status === 'completed')
      },
    })
    app.decorate('refreshQueue', queue)

    if (options.refreshOnStartup !== false) {
      app.addHook('onReady', async () => {
        const outcome = await queue.enqueue('startup').done
        if (outcome.status === 'failed')
          throw new Error(`startup refresh failed: ${describeError(outcome.error)}`)
      })
    }
    app.addHook('onClose', async () => {
      scheduler.stop()
      await queue.close()
    })
  },
  {
    name: 'refresh-queue',
    dependencies: ['config', 'desired-state-store', 'git-reader', 'metrics'],
  },
)
