import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { FeedSink } from '../content/index.js'
import type { RefreshObserver } from '../refresh/index.js'

// Prometheus metrics. One registry per app instance, so tests can build many.
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const refreshes = new Counter({
    name: 'docker_cd_refreshes_total',
    help: 'Refreshes by trigger and outcome',
    labelNames: ['trigger', 'outcome'] as const,
    registers: [registry],
  })
  const refreshDuration = new Histogram({
    name: 'docker_cd_refresh_duration_seconds',
    help: 'Wall time of a refresh, from start to snapshot swap or failure',
    labelNames: ['trigger'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  })
  const stacks = new Gauge({
    name: 'docker_cd_stacks',
    help: 'Stacks in the desired-state cache',
    registers: [registry],
  })
  const lastSuccess = new Gauge({
    name: 'docker_cd_last_successful_refresh_timestamp_seconds',
    help: 'Unix time of the last successful refresh',
    registers: [registry],
  })
  const revisionInfo = new Gauge({
    name: 'docker_cd_revision_info',
    help: 'The revision the cache reflects (value is always 1)',
    labelNames: ['revision', 'ref', 'ref_type'] as const,
    registers: [registry],
  })
  const webhookDeliveries = new Counter({
    name: 'docker_cd_webhook_deliveries_total',
    help: 'Webhook deliveries by sending Git host and result',
    labelNames: ['provider', 'result'] as const,
    registers: [registry],
  })

  const eventSubscribers = new Gauge({
    name: 'docker_cd_event_subscribers',
    help: 'Clients connected to GET /api/events',
    registers: [registry],
  })
  const eventsSent = new Counter({
    name: 'docker_cd_events_sent_total',
    help: 'Events written to /api/events subscribers (one per subscriber)',
    registers: [registry],
  })
  const subscribersDropped = new Counter({
    name: 'docker_cd_event_subscribers_dropped_total',
    help: 'Subscribers disconnected because they did not read fast enough',
    registers: [registry],
  })
  /** Counts what the live change feed does (services/content/event-feed.ts). */
  const feedSink: FeedSink = {
    subscribers: (count) => eventSubscribers.set(count),
    sent: (count) => eventsSent.inc(count),
    dropped: () => subscribersDropped.inc(),
  }

  const refreshObserver: RefreshObserver = {
    refreshFinished(outcome, snapshot) {
      refreshes.inc({ trigger: outcome.trigger, outcome: outcome.status })
      refreshDuration.observe({ trigger: outcome.trigger }, outcome.durationMs / 1000)
      if (outcome.status !== 'completed' || snapshot.revision === null) return
      stacks.set(snapshot.stacks.length)
      lastSuccess.set(Date.parse(outcome.finishedAt) / 1000)
      revisionInfo.reset()
      revisionInfo.set(
        { revision: snapshot.revision, ref: snapshot.ref, ref_type: snapshot.refType },
        1,
      )
    },
  }

  return {
    registry,
    /** Counts refreshes and records the state they left; registered with the refresh controller. */
    refreshObserver,
    feedSink,
    observeWebhook(provider: string, result: string) {
      webhookDeliveries.inc({ provider, result })
    },
  }
}
