import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    /** Limits rejected requests (bad signature, bad token) per client. */
    rejections: {
      /** Throws 429 (with Retry-After) when this client was rejected too often. */
      check(request: FastifyRequest): Promise<void>
      /** Counts one rejection of this client. */
      record(request: FastifyRequest): Promise<void>
    }
  }
}

// Per-client rate limits with @fastify/rate-limit (in memory; one instance
// per cache dir, so no shared store is needed). No correct request is
// limited: `app.rejections` counts only requests that were refused, so a
// client guessing webhook signatures or API tokens is slowed down while a
// correct sender is not. (Refreshes are paced, never refused: see
// services/refresh/pacer.ts.) Clients are told apart by address, or by
// X-Forwarded-For behind the proxies TRUST_PROXY names.

const REJECTION_LIMIT = { max: 10, timeWindow: '1 minute' }

export type RateLimitOptions = {
  /** Rejections a client may collect per minute before it gets 429 (10; tests raise it). */
  rejectionsPerMinute?: number
}

export default fp<RateLimitOptions>(
  async (app, options) => {
    await app.register(rateLimit, {
      global: false,
      // Thrown into the one error handler: same body shape as every error
      // (the plugin has set Retry-After already).
      errorResponseBuilder: (_request, context) =>
        app.httpErrors.createError(
          429,
          `rate limit exceeded: at most ${context.max} per time window; retry in ${context.after}`,
        ),
    })
    const limiter = app.createRateLimit({
      ...REJECTION_LIMIT,
      max: options.rejectionsPerMinute ?? REJECTION_LIMIT.max,
    })
    app.decorate('rejections', {
      async check(request: FastifyRequest) {
        // A peek: after `max` rejections the next request is refused.
        const status = await limiter(request, { increment: false })
        if (!status.isAllowed && (status.isExceeded || status.remaining === 0)) {
          throw app.httpErrors.createError(
            429,
            `too many rejected requests from this client; retry in ${status.ttlInSeconds} s`,
            { headers: { 'retry-after': String(status.ttlInSeconds) } },
          )
        }
      },
      async record(request: FastifyRequest) {
        await limiter(request)
      },
    })
  },
  { name: 'rate-limit', dependencies: ['sensible'] },
)
