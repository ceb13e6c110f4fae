import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorResponses, errorSchema, webhookResponseSchema } from '../schemas/api.js'
import { createWebhookReceiver } from '../services/webhook-receiver.js'

const WEBHOOK_BODY_LIMIT = 1024 * 1024 // GitHub caps payloads at 25 MB; pushes are far smaller

// POST /api/webhook: GitHub deliveries. The body is kept as raw bytes so the
// HMAC is computed over exactly what GitHub signed; the receiver service
// verifies, parses, decides and enqueues; this route maps its result to HTTP.
const webhookRoutes: FastifyPluginAsyncZod = async (app) => {
  const receive = createWebhookReceiver({
    secret: app.config.webhookSecret,
    target: () => app.desiredState.current(),
    refresh: () => app.desiredState.refresh('webhook'),
  })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    ['application/json', 'application/x-www-form-urlencoded'],
    { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT },
    (_request, body, done) => done(null, body),
  )

  app.post(
    '/api/webhook',
    {
      // A client whose deliveries were refused too often (guessing the
      // signature) gets 429 before its body is read (plugins/rate-limit.ts).
      onRequest: async (request) => app.rejections.check(request),
      schema: {
        tags: ['refresh'],
        summary: 'GitHub webhook',
        description:
          'Accepts GitHub deliveries (JSON or form-encoded). With WEBHOOK_SECRET set, X-Hub-Signature-256 must match the HMAC-SHA256 of the raw body. `ping` and pushes to other refs are ignored; a redelivered id that was already accepted is ignored; anything else enqueues a refresh.',
        headers: z.looseObject({
          'x-github-event': z.string().optional().describe('push, ping, …'),
          'x-github-delivery': z
            .string()
            .optional()
            .describe('Delivery id; a repeat of an accepted one is ignored'),
          'x-hub-signature-256': z
            .string()
            .optional()
            .describe('sha256=<hex HMAC of the raw body>'),
        }),
        response: {
          200: webhookResponseSchema,
          400: errorSchema.describe('Body is not valid JSON / form payload'),
          401: errorSchema.describe('Missing, malformed or wrong signature'),
          413: errorSchema.describe('Body larger than the limit'),
          415: errorSchema.describe('Content type other than JSON or form-encoded'),
          429: errorSchema.describe('Too many rejected deliveries from this client'),
          500: errorResponses[500],
        },
      },
    },
    async (request) => {
      const result = receive({
        headers: request.raw.headers,
        body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
        contentType: request.headers['content-type'] ?? '',
      })
      app.metrics.observeWebhook(result.result)
      const context = { delivery: result.delivery, event: result.event }
      if (result.status === 'rejected') {
        request.log.warn({ ...context, reason: result.message }, 'webhook rejected')
        await app.rejections.record(request)
        throw app.httpErrors.createError(result.statusCode, result.message)
      }
      if (result.status !== 'ignored')
        request.log.info({ ...context, status: result.status }, 'webhook accepted')
      return { status: result.status, message: result.message }
    },
  )
}

export default webhookRoutes
