import { EventSource } from 'eventsource'
import type { Test } from 'tap'
import { waitFor } from './build.js'

// A real EventSource client on a listening app's /api/events that keeps
// one stack's `stack-status` events, in order, for tests to wait on.

export type StatusEvent = {
  path: string
  from: string
  to: string
  reason?: string
  health?: string
}

/** Subscribes (and is open) before it returns; closed with the test. */
export async function followStackStatus(t: Test, base: string, stack: string) {
  const events: StatusEvent[] = []
  const feed = new EventSource(`${base}/api/events`)
  t.teardown(() => feed.close())
  feed.addEventListener('stack-status', (event) => {
    const data = JSON.parse(event.data) as StatusEvent
    if (data.path === stack) events.push(data)
  })
  await new Promise((resolve) => feed.addEventListener('open', resolve, { once: true }))
  /** The first event at index `from` or later that satisfies `match`, with its index. */
  const after = async (
    from: number,
    match: (event: StatusEvent) => boolean,
    what: string,
    timeoutMs?: number,
  ) => {
    const index = await waitFor(
      () => {
        const found = events.findIndex((event, i) => i >= from && match(event))
        return found === -1 ? undefined : { at: found }
      },
      what,
      timeoutMs,
    )
    return { event: events[index.at] as StatusEvent, index: index.at }
  }
  return {
    events,
    after,
    /** The first event from now on that satisfies `match` (a waiter made before the action). */
    next: (match: (event: StatusEvent) => boolean, what: string, timeoutMs?: number) =>
      after(events.length, match, what, timeoutMs).then(({ event }) => event),
  }
}
