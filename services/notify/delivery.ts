import type { ConnectionOptions } from 'node:tls'
import { durationWords, networkFailure } from '../base/index.js'
import { type Backoff, exponentialBackoff } from './backoff.js'
import type { EventKind, NotifyEvent } from './events.js'
import type { Channel, ChannelKind, ChannelRequest } from './request.js'
import { createTransport, type SendOutcome, type Transport } from './transport.js'

// Delivery never hurts the deploy. The caller hands an event over and gets
// control back at once; each channel has its own bounded queue and works it
// one message at a time, in order (a recovery never arrives before the
// failure it ends), so a dead Slack never holds up ntfy, and a slow
// endpoint never holds up a sync, a refresh or shutdown beyond close()'s
// grace.
// - Each attempt is bounded by `timeoutMs` (an AbortSignal handed to the
//   transport, and a race, so even a transport that ignores the signal
//   cannot hold a queue).
// - Network errors, timeouts, 5xx and 429 are retried with back-off, 429 and
//   503 after the receiver's Retry-After (a receiver asking for more than
//   `maxRetryAfterMs` gets the message dropped instead of a queue parked for
//   an hour). Other 4xx are not retried: the same request will be refused
//   the same way.
// - A full queue drops its oldest message: the newest state is what an
//   operator needs.
// - Every message ends in exactly one result through `onResult`, delivered
//   or dropped with a reason in words (for one metric and one log line);
//   `lastResult` keeps the latest per channel for the status page.
// - Nothing here throws into the caller, and no result, reason or error
//   carries a URL or a token: transports reduce errors to words
//   (failure-words.ts), channels show only kind and host.

export type DeliveryResult = {
  /** The channel's display (kind and host). */
  channel: string
  kind: ChannelKind
  event: EventKind
  stack?: string
  outcome: 'delivered' | 'dropped'
  /** Why it was dropped, in words. */
  reason?: string
  /** A caveat on a delivery (e.g. some e-mail recipients refused). */
  note?: string
  /** Attempts made (0 when dropped before any, e.g. queue full or shutdown). */
  attempts: number
  at: string
}

export type DeliveryOptions = {
  channels: Channel[]
  /** One attempt at one request; injected by tests, otherwise undici and nodemailer. */
  send?: Transport['send']
  /** Limit of one attempt. */
  timeoutMs?: number
  /** Tries after the first one, for failures that may pass. */
  retries?: number
  backoff?: Backoff
  /** Messages waiting per channel (the one being sent not counted). */
  queueLimit?: number
  /** The longest Retry-After honoured; a longer one drops the message. */
  maxRetryAfterMs?: number
  onResult?: (result: DeliveryResult) => void
  /** TLS options for SMTP (a private CA), when the default transport is used. */
  mailTls?: ConnectionOptions
  now?: () => Date
}

const SHUTDOWN = 'not sent before shutdown'

type Job = { event: NotifyEvent; request: ChannelRequest }
type Lane = { channel: Channel; queue: Job[]; running: boolean; last?: DeliveryResult }

export function createDelivery(options: DeliveryOptions) {
  const timeoutMs = options.timeoutMs ?? 10_000
  const retries = Math.max(0, options.retries ?? 3)
  const backoff = options.backoff ?? exponentialBackoff()
  const queueLimit = Math.max(1, options.queueLimit ?? 100)
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 5 * 60_000
  const now = options.now ?? (() => new Date())
  const transport = options.send
    ? undefined
    : createTransport({ timeoutMs, ...(options.mailTls ? { mailTls: options.mailTls } : {}) })
  const send = options.send ?? (transport as Transport).send

  const lanes = new Map<Channel, Lane>(
    options.channels.map((channel) => [channel, { channel, queue: [], running: false }]),
  )
  /** Aborted when close()'s grace is over: in-flight attempts and back-off waits end. */
  const stopping = new AbortController()
  /**
   * Aborted when shutdown begins (interruptTests): a test message's one
   * attempt ends at once. The test route is an HTTP request, and the server
   * waits for requests before close() runs: a test against a receiver that
   * never answers would otherwise hold shutdown for the whole attempt.
   */
  const testsStopping = new AbortController()
  let closing: Promise<void> | undefined
  let sendingNow = 0
  const idleWaiters: Array<() => void> = []

  function report(
    lane: Lane,
    event: NotifyEvent,
    outcome: DeliveryResult['outcome'],
    attempts: number,
    reason?: string,
    note?: string,
  ): DeliveryResult {
    const result: DeliveryResult = {
      channel: lane.channel.display,
      kind: lane.channel.kind,
      event: event.event,
      ...(event.stack === undefined ? {} : { stack: event.stack }),
      outcome,
      ...(reason === undefined ? {} : { reason }),
      ...(note === undefined ? {} : { note }),
      attempts,
      at: now().toISOString(),
    }
    lane.last = result
    try {
      options.onResult?.(result)
    } catch {
      // A failing metric or logger must not stop the queue.
    }
    return result
  }

  /** The channel's request for an event, or why it could not be built. */
  function format(lane: Lane, event: NotifyEvent): ChannelRequest | undefined {
    try {
      return lane.channel.request(event)
    } catch {
      report(lane, event, 'dropped', 0, 'the message could not be formatted')
      return undefined
    }
  }

  /** Resolves after `ms`, or early with false once shutdown's grace is over. */
  function pause(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (stopping.signal.aborted) return resolve(false)
      const onStop = () => {
        clearTimeout(timer)
        resolve(false)
      }
      const timer = setTimeout(() => {
        stopping.signal.removeEventListener('abort', onStop)
        resolve(true)
      }, ms)
      stopping.signal.addEventListener('abort', onStop, { once: true })
    })
  }

  /** One attempt under the per-attempt timeout and the shutdown signal. */
  async function attempt(request: ChannelRequest, also?: AbortSignal): Promise<SendOutcome> {
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, timeoutMs)
    const onStop = () => controller.abort()
    stopping.signal.addEventListener('abort', onStop, { once: true })
    also?.addEventListener('abort', onStop, { once: true })
    if (stopping.signal.aborted || also?.aborted) controller.abort()
    const abandoned = new Promise<SendOutcome>((resolve) => {
      const settle = () => resolve({ ok: false, reason: 'aborted', retry: true })
      if (controller.signal.aborted) settle()
      else controller.signal.addEventListener('abort', settle, { once: true })
    })
    try {
      const sent = Promise.resolve()
        .then(() => send(request, controller.signal))
        .catch((error: unknown): SendOutcome => ({ ok: false, ...networkFailure(error) }))
      const outcome = await Promise.race([sent, abandoned])
      if (outcome.ok || !controller.signal.aborted) return outcome
      return timedOut
        ? { ok: false, reason: `timed out after ${durationWords(timeoutMs)}`, retry: true }
        : { ok: false, reason: SHUTDOWN, retry: false }
    } finally {
      clearTimeout(timer)
      stopping.signal.removeEventListener('abort', onStop)
      also?.removeEventListener('abort', onStop)
    }
  }

  /** All tries for one message: delivered, or the reason it was dropped. */
  async function deliver(
    request: ChannelRequest,
  ): Promise<{ reason?: string; note?: string; attempts: number }> {
    for (let tries = 1; ; tries++) {
      const outcome = await attempt(request)
      if (outcome.ok) return { attempts: tries, ...(outcome.note ? { note: outcome.note } : {}) }
      if (!outcome.retry || tries > retries) return { reason: outcome.reason, attempts: tries }
      const wait = outcome.retryAfterMs ?? backoff(tries)
      if (wait > maxRetryAfterMs)
        return {
          reason: `${outcome.reason}; the receiver asked to wait ${durationWords(wait)}, longer than ${durationWords(maxRetryAfterMs)}`,
          attempts: tries,
        }
      if (!(await pause(wait)))
        return { reason: `${SHUTDOWN} (last try: ${outcome.reason})`, attempts: tries }
    }
  }

  async function drain(lane: Lane): Promise<void> {
    lane.running = true
    try {
      for (let job = lane.queue.shift(); job; job = lane.queue.shift()) {
        const { reason, note, attempts } = await deliver(job.request)
        report(
          lane,
          job.event,
          reason === undefined ? 'delivered' : 'dropped',
          attempts,
          reason,
          note,
        )
      }
    } finally {
      lane.running = false
      wakeIdle()
    }
  }

  function isIdle(): boolean {
    if (sendingNow > 0) return false
    for (const lane of lanes.values()) if (lane.running || lane.queue.length > 0) return false
    return true
  }

  function wakeIdle() {
    if (isIdle()) for (const wake of idleWaiters.splice(0)) wake()
  }

  /** Resolves once every queue is empty and nothing is being sent. */
  function drained(): Promise<void> {
    return isIdle() ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))
  }

  /** Hands an event to every channel's queue and returns at once. */
  function enqueue(event: NotifyEvent): void {
    for (const lane of lanes.values()) {
      if (closing) {
        report(lane, event, 'dropped', 0, SHUTDOWN)
        continue
      }
      const request = format(lane, event)
      if (request === undefined) continue
      if (lane.queue.length >= queueLimit) {
        const oldest = lane.queue.shift() as Job
        report(
          lane,
          oldest.event,
          'dropped',
          0,
          `queue full (${queueLimit} waiting): oldest message dropped`,
        )
      }
      lane.queue.push({ event, request })
      if (!lane.running) void drain(lane)
    }
  }

  /**
   * Sends an event to every channel now, one attempt each, bypassing the
   * queues, and answers with each channel's result: for the test message,
   * where a person is waiting for the answer and a retry would only hide it.
   */
  async function sendNow(event: NotifyEvent): Promise<DeliveryResult[]> {
    return Promise.all(
      [...lanes.values()].map(async (lane) => {
        if (closing || testsStopping.signal.aborted)
          return report(lane, event, 'dropped', 0, SHUTDOWN)
        const request = format(lane, event)
        if (request === undefined) return lane.last as DeliveryResult
        sendingNow++
        try {
          const outcome = await attempt(request, testsStopping.signal)
          return outcome.ok
            ? report(lane, event, 'delivered', 1, undefined, outcome.note)
            : report(lane, event, 'dropped', 1, outcome.reason)
        } finally {
          sendingNow--
          wakeIdle()
        }
      }),
    )
  }

  /**
   * Stops taking messages, lets queued and in-flight ones finish for at most
   * `graceMs`, then aborts what is still in flight and drops the rest, each
   * with a result. Resolves when nothing is left running.
   */
  function close(graceMs = 5000): Promise<void> {
    closing ??= (async () => {
      let graceTimer: NodeJS.Timeout | undefined
      await Promise.race([
        drained(),
        new Promise<void>((resolve) => {
          graceTimer = setTimeout(resolve, graceMs)
        }),
      ])
      clearTimeout(graceTimer)
      stopping.abort()
      for (const lane of lanes.values())
        for (let job = lane.queue.shift(); job; job = lane.queue.shift())
          report(lane, job.event, 'dropped', 0, SHUTDOWN)
      await drained()
      await transport?.close()
    })()
    return closing
  }

  return {
    enqueue,
    sendNow,
    /** Shutdown began: sendNow's attempts end now, as not sent; queued messages are close()'s. */
    interruptTests: () => testsStopping.abort(),
    close,
    drained,
    /** The latest result of a channel, for the status page. */
    lastResult: (channel: Channel): DeliveryResult | undefined => lanes.get(channel)?.last,
    /** Every channel with its queue length and latest result. */
    status: () =>
      [...lanes.values()].map((lane) => ({
        kind: lane.channel.kind,
        display: lane.channel.display,
        queued: lane.queue.length,
        last: lane.last,
      })),
  }
}

export type Delivery = ReturnType<typeof createDelivery>
