import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { errorResponses, errorSchema, webhookResponseSchema } from '../schemas/api.js'
import { createWebhookReceiver } from '../services/webhooks/index.js'

const WEBHOOK_BODY_LIMIT = 1024 * 1024 // GitHub caps payloads at 25 MB; pushes are far smaller

// POST /api/webhook: deliveries from GitHub, GitLab, Gitea, Forgejo, Gogs
// and Bitbucket. The body is kept as raw bytes so the HMAC is computed over
// exactly what the host signed; the receiver service recognises the sender,
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
      // Its own signature stands in for the API token (plugins/api-auth.ts).
      config: { publicApi: true },
      schema: {
        tags: ['refresh'],
        summary: 'Push webhook of GitHub, GitLab, Gitea, Forgejo, Gogs or Bitbucket',
        description: [
          'The sender is recognised from its headers, most specific first (Forgejo, Gitea, Gogs, GitLab, Bitbucket, GitHub), and verified its own way with WEBHOOK_SECRET as the shared secret:',
          '- **GitHub**: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`; event `X-GitHub-Event`, id `X-GitHub-Delivery`. JSON or form-encoded.',
          '- **Gitea / Forgejo / Gogs**: `X-Gitea-Signature` / `X-Forgejo-Signature` / `X-Gogs-Signature` = hex HMAC-SHA256 of the raw body; event and id in `X-…-Event` / `X-…-Delivery`. JSON or form-encoded.',
          '- **GitLab**: `X-Gitlab-Token` equals the secret; events `Push Hook`, `Tag Push Hook`, `System Hook` (push bodies); id `X-Gitlab-Event-UUID`.',
          '- **Bitbucket**: `X-Hub-Signature: sha256=<hex HMAC>`; event `X-Event-Key: repo:push` (refs in `push.changes[].new`); id `X-Request-UUID`.',
          '',
          'A ping/test event and a push to another branch or tag are `ignored` with the reason; a redelivered id that was already accepted is ignored; anything else enqueues a refresh. Without WEBHOOK_SECRET unsigned deliveries are accepted (a warning at startup).',
        ].join('\n'),
        headers: z.looseObject({
          'x-github-event': z.string().optional().describe('GitHub: push, ping, …'),
          'x-hub-signature-256': z
            .string()
            .optional()
            .describe('GitHub: sha256=<hex HMAC of the raw body>'),
          'x-gitea-signature': z.string().optional().describe('Gitea: <hex HMAC of the raw body>'),
          'x-forgejo-signature': z
            .string()
            .optional()
            .describe('Forgejo: <hex HMAC of the raw body>'),
          'x-gitlab-token': z.string().optional().describe('GitLab: the secret itself'),
          'x-event-key': z.string().optional().describe('Bitbucket: repo:push, …'),
        }),
        response: {
          200: webhookResponseSchema,
          400: errorSchema.describe('Body is not valid JSON / form payload'),
          401: errorSchema.describe('Missing, malformed or wrong signature or token'),
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
      app.metrics.observeWebhook(result.provider, result.result)
      const context = { provider: result.provider, delivery: result.delivery, event: result.event }
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
