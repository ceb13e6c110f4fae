import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errorResponses } from '../schemas/api.js'
import { notificationsStatusSchema, notificationTestSchema } from '../schemas/notify.js'

// GET /api/notifications: the channels (kind and host only) and where commit
// statuses go, with each channel's latest delivery. POST
// /api/notifications/test: one test message to every channel now, answered
// with each result. The test makes the service call out, so, like a manual
// sync, it exists only behind the API token.
const notificationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/api/notifications',
    {
      schema: {
        tags: ['notifications'],
        summary: 'Notification channels and commit statuses, with the latest delivery per channel',
        response: { 200: notificationsStatusSchema },
      },
    },
    async () => app.notify.status(),
  )

  app.post(
    '/api/notifications/test',
    {
      bodyLimit: 64,
      schema: {
        tags: ['notifications'],
        summary: 'Send a test message to every channel',
        description:
          'Sends one `test` message to every configured channel, one attempt each (no retry hides a failure), and answers when all have answered or timed out, with each result. Refused with 403 unless API_TOKEN is configured (it makes the service call out), 409 when NOTIFY_URLS names no channel.',
        response: {
          200: notificationTestSchema,
          // Sent for a malformed body (`content-type: application/json` with an
          // empty or broken body), as for a manual sync: documented like there.
          400: errorResponses[400],
          403: errorResponses[400].describe('API_TOKEN is not configured: the test is off'),
          409: errorResponses[400].describe('No channel configured (NOTIFY_URLS)'),
          413: errorResponses[413],
          503: errorResponses[503],
        },
      },
    },
    async () => {
      if (!app.config.apiToken)
        throw app.httpErrors.forbidden(
          'the notification test makes docker-cd call out: it needs API_TOKEN configured (and sent as a Bearer token)',
        )
      if (app.notify.status().channels.length === 0)
        throw app.httpErrors.conflict(
          'no notification channel is configured: set NOTIFY_URLS (or NOTIFY_URLS_FILE)',
        )
      return { results: await app.notify.test() }
    },
  )
}

export default notificationRoutes
