import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { STACK_STATUSES } from '../../schemas/stack.js'
import type { FeedSink } from '../content/index.js'
import type { RefreshObserver } from '../refresh/index.js'
import type { SyncObserver } from '../sync/index.js'

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
  let stacksNow: () => readonly { status: string }[] = () => []
  new Gauge({
    name: 'docker_cd_stacks_by_status',
    help: 'Stacks by status (missing, synced, out_of_sync, unknown, …)',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const status of STACK_STATUSES) this.set({ status }, 0)
      for (const stack of stacksNow()) this.inc({ status: stack.status })
    },
  })
  const driftChecks = new Counter({
    name: 'docker_cd_drift_checks_total',
    help: 'Host checks of a stack (Compose plan + engine state), by the status they found',
    labelNames: ['status'] as const,
    registers: [registry],
  })
  const engineLost = new Counter({
    name: 'docker_cd_engine_unreachable_total',
    help: 'Times the Docker engine stopped answering (event stream lost and ping failed)',
    registers: [registry],
  })
  const composeRuns = new Counter({
    name: 'docker_cd_compose_runs_total',
    help: 'Compose processes started, by what was asked (model: config; plan: --dry-run up; validate, pull, up, down: applying)',
    labelNames: ['asked'] as const,
    registers: [registry],
  })
  const syncRuns = new Counter({
    name: 'docker_cd_sync_runs_total',
    help: 'Sync runs (deploys) by trigger and result (completed, failed, interrupted)',
    labelNames: ['trigger', 'result'] as const,
    registers: [registry],
  })
  const syncDuration = new Histogram({
    name: 'docker_cd_sync_duration_seconds',
    help: 'Duration of a sync run, validate to read-back (rollback included)',
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  })
  const rollbacks = new Counter({
    name: 'docker_cd_sync_rollbacks_total',
    help: 'Failed deploys after which the last good tree was re-applied',
    registers: [registry],
  })
  const notifications = new Counter({
    name: 'docker_cd_notifications_total',
    help: 'Notification messages by channel (kind and host, never the URL) and result (delivered, dropped)',
    labelNames: ['channel', 'result'] as const,
    registers: [registry],
  })
  const commitStatuses = new Counter({
    name: 'docker_cd_commit_statuses_total',
    help: 'Commit status calls to the Git host by result (sent, rejected, unreachable)',
    labelNames: ['result'] as const,
    registers: [registry],
  })
  /** Counts what the notifier does (services/notify/). */
  const notifySink = {
    delivered: (channel: string, result: 'delivered' | 'dropped') =>
      notifications.inc({ channel, result }),
    commitStatus: (result: 'sent' | 'rejected' | 'unreachable') => commitStatuses.inc({ result }),
  }
  /** Counts what applying does (services/sync/), as one of its observers. */
  const syncObserver: SyncObserver = {
    runFinished({ run }) {
      syncRuns.inc({ trigger: run.trigger, result: run.result })
      syncDuration.observe(run.durationMs / 1000)
      if (run.rolledBackTo) rollbacks.inc()
    },
  }
  /** Counts what host detection does (services/host/). */
  const hostSink = {
    composeRun: (asked: string) => composeRuns.inc({ asked }),
    checked: (state: { status: string }) => driftChecks.inc({ status: state.status }),
    engineLost: () => engineLost.inc(),
  }
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
    hostSink,
    notifySink,
    syncObserver,
    /** Where the stacks-by-status gauge reads, at each scrape. */
    countStacksFrom(stacks: () => readonly { status: string }[]) {
      stacksNow = stacks
    },
    observeWebhook(provider: string, result: string) {
      webhookDeliveries.inc({ provider, result })
    },
  }
}
