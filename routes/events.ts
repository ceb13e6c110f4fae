import sseModule, { type SSEPluginOptions } from '@fastify/sse'
import type { FastifyPluginAsync } from 'fastify'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { errorResponses } from '../schemas/api.js'
import { feedEventSchema } from '../schemas/events.js'
import { type FeedEvent, frameOf, mayDeliver } from '../services/content/index.js'

// GET /api/events: the live change feed as Server-Sent Events, with
// @fastify/sse (headers, heartbeats, Last-Event-ID). Replays what a
// reconnecting client missed, then follows the feed. A client whose
// unsent output passes SLOW_CLIENT_BYTES is disconnected rather than
// buffered without end: it resumes by id.

// The package's CommonJS export is the plugin wrapped with fastify-plugin
// (so its onRoute hook sees our route); its typings describe the module.
const ssePlugin = sseModule as unknown as FastifyPluginAsync<SSEPluginOptions>

const HEARTBEAT_MS = 15_000 // proxies commonly close idle streams after 30-60 s

const eventsRoutes: FastifyPluginAsyncZod<{ heartbeatMs?: number }> = async (app, options) => {
  await app.register(ssePlugin, { heartbeatInterval: options.heartbeatMs ?? HEARTBEAT_MS })

  app.get(
    '/api/events',
    {
      sse: 'only',
      schema: {
        tags: ['state'],
        summary: 'Live change feed (Server-Sent Events)',
        description:
          'A `text/event-stream` of `refresh` events (every finished refresh, with the stacks it added, changed and removed) and `stack-status` events. Every event has an increasing `id`; reconnect with `Last-Event-ID` to receive what was missed (the last 1,000 events are kept), or a `reset` event when that is no longer possible. A comment line every 15 s keeps proxies from closing the stream. A client that stops reading is disconnected once 256 KiB are waiting for it (after its socket buffers are full). At most 16 subscriptions per client and 256 in all: beyond, 429 / 503 with `Retry-After`. Try: `curl -N localhost:8080/api/events`.',
        produces: ['text/event-stream'],
        response: {
          200: { content: { 'text/event-stream': { schema: feedEventSchema } } },
          429: errorResponses[429],
          503: errorResponses[503],
        },
      },
    },
    async (request, reply) => {
      const { eventFeed, streamLimits } = app
      streamLimits.hold(streamLimits.subscribers, 'event subscriptions', request, reply)
      reply.sse.keepAlive()
      reply.sse.sendHeaders()
      // Node holds headers back until the first body byte; a client should
      // see the stream open now, not at the first event or heartbeat.
      reply.raw.flushHeaders()
      const raw = reply.raw
      // Written straight to the socket: @fastify/sse's send() waits for
      // 'drain' per message, and a stalled client would pile up a waiter per
      // event; the buffer bound below is what limits it instead.
      const write = (event: FeedEvent) => {
        if (!raw.destroyed) raw.write(frameOf(event))
      }
      const replay = eventFeed.replay(reply.sse.lastEventId ?? undefined)
      if (replay.kind === 'reset') write(replay.event)
      else for (const event of replay.events) write(event)

      const unsubscribe = eventFeed.subscribe({
        deliver(event) {
          if (!mayDeliver(raw.writableLength, frameOf(event).length)) return false
          write(event)
          return true
        },
        drop(reason) {
          request.log.info({ reason }, 'event subscriber dropped')
          if (reason === 'slow') raw.destroy()
          else reply.sse.close()
        },
      })
      reply.sse.onClose(unsubscribe)
    },
  )
}

export default eventsRoutes
