import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  acceptedMessage,
  errorResponses,
  errorSchema,
  webhookResponseSchema,
} from '../schemas/api.js'
import { createDeliveryLog, decideWebhook, parseWebhookBody } from '../services/webhook-event.js'
import { verifySignature } from '../services/webhook-signature.js'

export const WEBHOOK_BODY_LIMIT = 1024 * 1024 // GitHub caps payloads at 25 MB; pushes are far smaller

// POST /api/webhook: GitHub deliveries. The body is kept as raw bytes so the
// HMAC is computed over exactly what GitHub signed; it is parsed only after
// the signature holds.
const webhookRoutes: FastifyPluginAsyncZod = async (app) => {
  const deliveries = createDeliveryLog()
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    ['application/json', 'application/x-www-form-urlencoded'],
    { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT },
    (_request, body, done) => done(null, body),
  )

  app.post(
    '/api/webhook',
    {
      schema: {
        tags: ['refresh'],
        summary: 'GitHub webhook',
        description:
          'Accepts GitHub deliveries (JSON or form-encoded). With WEBHOOK_SECRET set, X-Hub-Signature-256 must match the HMAC-SHA256 of the raw body. `ping`, pushes to other refs and redelivered ids are ignored; anything else enqueues a refresh.',
        headers: z.looseObject({
          'x-github-event': z.string().optional().describe('push, ping, …'),
          'x-github-delivery': z.string().optional().describe('Delivery id; repeats are ignored'),
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
          500: errorResponses[500],
        },
      },
    },
    async (request, reply) => {
      const { config, desiredState, refreshQueue, metrics } = app
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const reject = (statusCode: 400 | 401, result: string, message: string) => {
        metrics.observeWebhook(result)
        request.log.warn(
          { delivery: request.headers['x-github-delivery'], reason: message },
          'webhook rejected',
        )
        return reply.code(statusCode).send({
          statusCode,
          error: statusCode === 401 ? 'Unauthorized' : 'Bad Request',
          message,
        })
      }

      if (config.webhookSecret) {
        const check = verifySignature(
          config.webhookSecret,
          body,
          request.raw.headers['x-hub-signature-256'],
        )
        if (!check.valid) return reject(401, 'unauthorized', check.reason)
      }
      let payload: unknown
      try {
        payload = parseWebhookBody(body, request.headers['content-type'] ?? '')
      } catch (error) {
        return reject(400, 'bad_request', `unreadable delivery body: ${(error as Error).message}`)
      }

      const deliveryId = request.headers['x-github-delivery']
      if (typeof deliveryId === 'string' && deliveryId !== '' && deliveries.has(deliveryId)) {
        metrics.observeWebhook('duplicate')
        return {
          status: 'ignored' as const,
          message: `delivery ${deliveryId} was already accepted`,
        }
      }
      const event = request.headers['x-github-event']
      const snapshot = desiredState.current()
      const decision = decideWebhook(event, payload, snapshot)
      if (typeof deliveryId === 'string' && deliveryId !== '') deliveries.add(deliveryId)
      if (decision.action === 'ignore') {
        metrics.observeWebhook('ignored')
        return { status: 'ignored' as const, message: decision.reason }
      }
      const { status } = refreshQueue.enqueue('webhook')
      metrics.observeWebhook(status)
      request.log.info({ delivery: deliveryId, event, status }, 'webhook accepted')
      return { status, message: acceptedMessage(status) }
    },
  )
}

export default webhookRoutes
