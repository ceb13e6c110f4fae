import { z } from 'zod'

// Shapes shared by several routes: Fastify's error shape and the webhook answer.

export const errorSchema = z
  .object({
    statusCode: z.number().int(),
    error: z.string(),
    message: z.string(),
  })
  .meta({
    id: 'Error',
    example: { statusCode: 404, error: 'Not Found', message: 'Route GET:/api/nope not found' },
  })

export const webhookResponseSchema = z
  .object({
    status: z.enum(['refreshing', 'queued', 'ignored']),
    message: z.string(),
  })
  .meta({
    id: 'WebhookResponse',
    example: {
      status: 'ignored',
      message: 'push to refs/heads/dev does not match refs/heads/main',
    },
  })

/** `?wait=true|false|1|0`: answer when the work asked for has finished. */
export const waitFlag = (description: string) =>
  z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((value) => value === 'true' || value === '1')
    .meta({ description })

export const refreshQuerySchema = z.object({
  wait: z
    .enum(['true', 'false', '1', '0', 'sync'])
    .optional()
    .transform((value) =>
      value === 'sync'
        ? ('sync' as const)
        : value === 'true' || value === '1'
          ? ('refresh' as const)
          : undefined,
    )
    .meta({
      description:
        "`true`: answer when the refresh covering this request has finished; `sync`: also when every deploy it caused has finished, with each changed stack's outcome",
    }),
})

/** The message that goes with a `refreshing`/`queued` answer (manual refresh and webhook). */
export const acceptedMessage = (status: 'refreshing' | 'queued') =>
  status === 'refreshing' ? 'refresh started' : 'refresh queued behind the running one'

export const errorResponses = {
  400: errorSchema.describe('Malformed request'),
  403: errorSchema.describe('Refused (the route says when)'),
  404: errorSchema.describe('Not found'),
  401: errorSchema.describe('API_TOKEN is set and the Bearer token is missing or wrong'),
  413: errorSchema.describe('Request body larger than the route accepts'),
  429: errorSchema.describe('Rate limit exceeded; Retry-After says when to try again'),
  500: errorSchema.describe('Internal error (details are in the log, under the request id)'),
  503: errorSchema.describe('Shutting down or under pressure'),
}
