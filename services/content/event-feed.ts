import type { RefreshObserver } from '../refresh/index.js'
import type { SyncObserver, SyncPhase, SyncRunRef, TreeRef } from '../sync/index.js'

// The live change feed behind GET /api/events: every finished refresh,
// every stack status change and every phase of a sync run becomes an event with an increasing id, kept in
// a bounded history so a client that reconnects with Last-Event-ID gets what
// it missed, or a `reset` when that is no longer possible.
//
// Ids start at this process's start time in microseconds, so they keep
// increasing across restarts and an id from before a restart is recognised
// as such (it is below the first id of this process).
//
// Delivery never waits: a subscriber's `deliver` writes or reports that its
// buffer is full, and a full subscriber is dropped (it can resume by id).

type FeedEventName = 'refresh' | 'stack-status' | 'sync' | 'reset'

export type FeedEvent = Readonly<{ id: number; event: FeedEventName; data: object }>

type Subscriber = {
  /** Sends one event; returns false when the client's buffer is past its bound. */
  deliver: (event: FeedEvent) => boolean
  /** Called when the feed drops the subscriber (slow client, or shutdown). */
  drop: (reason: 'slow' | 'closing') => void
}

export type FeedSink = {
  subscribers?: (count: number) => void
  sent?: (count: number) => void
  dropped?: () => void
}

type Replay = { kind: 'events'; events: readonly FeedEvent[] } | { kind: 'reset'; event: FeedEvent }

export function createEventFeed(
  options: { historySize?: number; firstId?: number; sink?: FeedSink } = {},
) {
  const historySize = options.historySize ?? 1000
  const firstId = options.firstId ?? Date.now() * 1000
  const sink = options.sink ?? {}
  const history: FeedEvent[] = []
  const subscribers = new Set<Subscriber>()
  let nextId = firstId

  function publish(event: Exclude<FeedEventName, 'reset'>, data: object): FeedEvent {
    const id = nextId++
    const entry: FeedEvent = Object.freeze({ id, event, data: { id, ...data } })
    history.push(entry)
    if (history.length > historySize) history.shift()
    let sent = 0
    for (const subscriber of [...subscribers]) {
      if (delivered(subscriber, entry)) sent++
      else {
        unsubscribe(subscriber)
        sink.dropped?.()
        try {
          subscriber.drop('slow')
        } catch {
          // Dropped already; its own failure to end must not stop the others.
        }
      }
    }
    sink.sent?.(sent)
    return entry
  }

  /** A subscriber that throws is dropped like a full one: the others after it still get the event. */
  function delivered(subscriber: Subscriber, entry: FeedEvent): boolean {
    try {
      return subscriber.deliver(entry)
    } catch {
      return false
    }
  }

  /** What a client that last saw `lastEventId` needs: the missed events, or a reset. */
  function replay(lastEventId: string | undefined): Replay {
    if (lastEventId === undefined || lastEventId.trim() === '')
      return { kind: 'events', events: [] }
    const last = Number(lastEventId)
    const newest = nextId - 1
    const oldestKept = history[0]?.id ?? nextId
    const reset = (reason: string): Replay => ({
      kind: 'reset',
      event: Object.freeze({
        id: newest,
        event: 'reset',
        data: {
          reason,
          message: 're-read /api/stacks and /api/refresh-status, then follow the feed',
        },
      }),
    })
    if (!Number.isSafeInteger(last))
      return reset(`Last-Event-ID "${lastEventId}" is not an event id`)
    if (last > newest) return reset(`event ${last} was not sent by this process (restarted?)`)
    if (last < firstId - 1) return reset(`event ${last} is from before a restart`)
    if (last < oldestKept - 1) return reset(`event ${last} is older than the kept history`)
    return { kind: 'events', events: history.filter((entry) => entry.id > last) }
  }

  function subscribe(subscriber: Subscriber): () => void {
    subscribers.add(subscriber)
    sink.subscribers?.(subscribers.size)
    return () => unsubscribe(subscriber)
  }

  function unsubscribe(subscriber: Subscriber) {
    if (subscribers.delete(subscriber)) sink.subscribers?.(subscribers.size)
  }

  /** Feeds the stream from the refresh controller. */
  const observer: RefreshObserver = {
    refreshFinished(outcome) {
      publish('refresh', {
        trigger: outcome.trigger,
        outcome: outcome.status,
        revision: outcome.revision,
        previousRevision: outcome.previousRevision,
        startedAt: outcome.startedAt,
        finishedAt: outcome.finishedAt,
        ...(outcome.error ? { error: outcome.error.message, reason: outcome.error.reason } : {}),
        changes: outcome.changes,
      })
    },
    stackStatusChanged({ path, from, to, reason, health }) {
      publish('stack-status', {
        path,
        from,
        to,
        ...(reason ? { reason } : {}),
        ...(health ? { health } : {}),
      })
    },
  }

  /** One `sync` event: what the run is about, its phase, and what happened in words. */
  const syncEvent = (
    ref: SyncRunRef,
    phase: SyncPhase,
    message: string,
    extra: { error?: string; rolledBackTo?: TreeRef } = {},
  ) =>
    publish('sync', {
      stack: ref.stack,
      phase,
      trigger: ref.trigger,
      revision: ref.revision,
      treeHash: ref.treeHash,
      message,
      ...(extra.error ? { error: extra.error } : {}),
      ...(extra.rolledBackTo ? { rolledBackTo: extra.rolledBackTo } : {}),
    })

  const syncObserver: SyncObserver = {
    runQueued: (event) => syncEvent(event, 'queued', event.message),
    phase: (event) => syncEvent(event, event.phase, event.message),
    runFinished(event) {
      syncEvent(event, event.result === 'completed' ? 'completed' : 'failed', event.message, {
        ...(event.run.error ? { error: event.run.error } : {}),
        ...(event.rolledBackTo ? { rolledBackTo: event.rolledBackTo } : {}),
      })
    },
    stackRemoved(event) {
      syncEvent(
        {
          stack: event.stack,
          trigger: 'prune',
          revision: event.revision,
          treeHash: event.treeHash,
        },
        event.result,
        event.message,
        event.failure ? { error: event.failure.message } : {},
      )
    },
  }

  return {
    replay,
    subscribe,
    observer,
    /** Feeds the stream from the reconciler: each phase of a sync run is an `event: sync`. */
    syncObserver,
    subscriberCount: () => subscribers.size,
    /** Ends every subscription (shutdown). */
    close() {
      for (const subscriber of [...subscribers]) {
        unsubscribe(subscriber)
        subscriber.drop('closing')
      }
    },
  }
}
