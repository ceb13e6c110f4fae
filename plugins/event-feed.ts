import fp from 'fastify-plugin'
import { createEventFeed } from '../services/content/index.js'

declare module 'fastify' {
  interface FastifyInstance {
    eventFeed: ReturnType<typeof createEventFeed>
  }
}

// The live change feed, fed by the refresh controller; GET /api/events
// (routes/events.ts) streams it. Subscribers are let go on shutdown.
export default fp(
  async (app) => {
    const feed = createEventFeed({ sink: app.metrics.feedSink })
    app.desiredState.observe(feed.observer)
    app.decorate('eventFeed', feed)
    app.addHook('preClose', async () => feed.close())
  },
  { name: 'event-feed', dependencies: ['desired-state', 'metrics'] },
)
