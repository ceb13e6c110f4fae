import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { acceptedMessage, errorResponses, refreshQuerySchema } from '../schemas/api.js'
import {
  refreshAcceptedSchema,
  refreshFinishedSchema,
  refreshStatusSchema,
} from '../schemas/refresh.js'
import { NO_CHANGES } from '../services/refresh/index.js'

// POST /api/refresh (manual refresh) and GET /api/refresh-status.
const refreshRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/api/refresh',
    {
      // The route takes no body: anything past a few bytes is refused (413)
      // before it is read, let alone parsed.
      bodyLimit: 64,
      schema: {
        tags: ['refresh'],
        summary: 'Refresh the cache from Git now',
        description:
          'Enqueues a manual refresh and answers at once (`refreshing` or `queued`). With `?wait=true`, answers when the refresh that covers this request has finished (`completed` or `failed`). With `?wait=sync`, answers once the deploys that refresh caused have finished too, with `stacks`: every stack it added or changed, its status and its run (a script can push, call this once, and trust the answer). Never refused for coming often: starts are paced (REFRESH_RATE_LIMIT, 30 at once then 30 a minute by default), and a request that arrives while the pace holds starts back waits in the one coalescing slot (`queued`).',
        querystring: refreshQuerySchema,
        response: {
          200: z.union([refreshAcceptedSchema, refreshFinishedSchema]),
          400: errorResponses[400],
          413: errorResponses[413],
          429: errorResponses[429].describe(
            'Too many rejected requests (wrong API token) from this client',
          ),
          500: errorResponses[500],
          503: errorResponses[503],
        },
      },
    },
    async (request) => {
      const { status, done } = app.desiredState.refresh('manual')
      if (!request.query.wait) return { status, message: acceptedMessage(status) }
      const outcome = await done
      if (outcome.error?.reason === 'aborted')
        throw app.httpErrors.createError(503, `shutting down: ${outcome.message}`, { expose: true })
      const finished = {
        status: outcome.status,
        message: outcome.message,
        revision: outcome.revision,
        changes: outcome.changes,
      }
      if (request.query.wait !== 'sync' || outcome.status !== 'completed') return finished
      return {
        ...finished,
        stacks: await deploysOf([...outcome.changes.added, ...outcome.changes.changed]),
      }
    },
  )

  /**
   * `?wait=sync`: the refresh's stacks once the deploys it caused are over.
   * Its changed stacks are checked (the monitor queues them before the
   * refresh's waiters hear of it), each check may queue a deploy, a deploy's
   * end may queue another (an order between stacks): waited until both the
   * checks and the deploys are idle twice over.
   */
  async function deploysOf(paths: readonly string[]) {
    const host = app.host
    if (host && app.sync)
      for (let round = 0; round < 2; round++) {
        await host.idle()
        await app.sync.idle()
      }
    const snapshot = app.desiredState.current()
    return paths.flatMap((path) => {
      const stack = snapshot.stacks.find((s) => s.path === path)
      if (!stack) return []
      const run = app.sync?.record(path)?.history[0]
      return [
        {
          path,
          status: stack.status,
          ...(stack.reason ? { reason: stack.reason } : {}),
          ...(run && run.toTree === stack.treeOid
            ? {
                run: {
                  result: run.result,
                  trigger: run.trigger,
                  revision: run.revision,
                  toTree: run.toTree,
                  ...(run.rolledBackTo ? { rolledBackTo: run.rolledBackTo } : {}),
                },
              }
            : {}),
        },
      ]
    })
  }

  app.get(
    '/api/refresh-status',
    {
      schema: {
        tags: ['state'],
        summary: 'State of the cache and of the latest refresh',
        response: { 200: refreshStatusSchema, 500: errorResponses[500] },
      },
    },
    async () => {
      const { revision, ref, refType, refreshedAt, refreshStatus, refreshError, trigger } =
        app.desiredState.current()
      const changes = app.desiredState.lastOutcome()?.changes ?? NO_CHANGES
      return { revision, ref, refType, refreshedAt, refreshStatus, refreshError, trigger, changes }
    },
  )
}

export default refreshRoutes
