import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import {
  createStreamSlots,
  type SlotLimits,
  type StreamSlots,
  watchForStall,
} from '../services/content/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Slots for long-lived responses; `hold` takes one for the request or throws 429/503. */
    streamLimits: {
      archives: StreamSlots
      subscribers: StreamSlots
      /** Idle time after which a stalled archive download is ended. */
      archiveIdleMs: number
      hold(slots: StreamSlots, what: string, request: FastifyRequest, reply: FastifyReply): void
      /** An archive download: holds its slot, and ends it when the client stops reading. */
      holdDownload(request: FastifyRequest, reply: FastifyReply): void
    }
  }
}

export type StreamLimitOptions = {
  archives?: Partial<SlotLimits>
  subscribers?: Partial<SlotLimits>
  archiveIdleMs?: number
}

// Defaults (docs/api.md, "Access control and limits"): an archive download holds
// a git process and a gzip stream, so few per client; an event subscriber
// holds a socket and a bounded buffer, so more.
export const STREAM_LIMIT_DEFAULTS = {
  archives: { perClient: 4, total: 32 },
  subscribers: { perClient: 16, total: 256 },
  archiveIdleMs: 60_000,
}
const RETRY_AFTER_SECONDS = 5

export default fp<StreamLimitOptions>(
  async (app, options) => {
    const archives = createStreamSlots({ ...STREAM_LIMIT_DEFAULTS.archives, ...options.archives })
    const subscribers = createStreamSlots({
      ...STREAM_LIMIT_DEFAULTS.subscribers,
      ...options.subscribers,
    })
    const archiveIdleMs = options.archiveIdleMs ?? STREAM_LIMIT_DEFAULTS.archiveIdleMs

    function hold(slots: StreamSlots, what: string, request: FastifyRequest, reply: FastifyReply) {
      const slot = slots.acquire(request.ip)
      if ('refused' in slot) {
        const { scope, limit } = slot.refused
        throw app.httpErrors.createError(
          scope === 'client' ? 429 : 503,
          scope === 'client'
            ? `this client already has ${limit} ${what} open; close one or retry later`
            : `the service already serves ${limit} ${what}; retry later`,
          { headers: { 'retry-after': String(RETRY_AFTER_SECONDS) }, expose: true },
        )
      }
      // Released when the response ends, however it ends.
      reply.raw.once('close', slot.release)
    }

    function holdDownload(request: FastifyRequest, reply: FastifyReply) {
      hold(archives, 'archive downloads', request, reply)
      const stop = watchForStall({
        progress: () => request.raw.socket?.bytesWritten ?? 0,
        idleMs: archiveIdleMs,
        onStall: () => {
          request.log.info(
            { idleMs: archiveIdleMs },
            'archive download ended: the client stopped reading',
          )
          reply.raw.destroy()
        },
      })
      reply.raw.once('close', stop)
    }

    app.decorate('streamLimits', { archives, subscribers, archiveIdleMs, hold, holdDownload })
  },
  { name: 'stream-limits', dependencies: ['sensible'] },
)
