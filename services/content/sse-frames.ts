import type { FeedEvent } from './event-feed.js'

// The event feed on the wire (GET /api/events): each event formatted once
// and shared by every subscriber, and the bound on what may wait in this
// process for a client that does not read.

/** Unsent bytes past which a subscriber is dropped (it resumes by id). */
export const SLOW_CLIENT_BYTES = 256 * 1024

const frames = new WeakMap<FeedEvent, Buffer>()

/**
 * One event in the text/event-stream format (the JSON data has no
 * newlines). Memoised per event: sockets queue a Buffer by reference, so a
 * thousand subscribers behind on one event hold one copy of it, not a
 * thousand strings.
 */
export function frameOf(event: FeedEvent): Buffer {
  let frame = frames.get(event)
  if (frame === undefined) {
    frame = Buffer.from(
      `id: ${event.id}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`,
    )
    frames.set(event, frame)
  }
  return frame
}

/**
 * Whether a subscriber with `pending` bytes unsent may take a frame: what
 * waits in this process for one client stays within the bound (or one
 * frame, for a frame larger than the bound). Kernel socket buffers take
 * the first megabytes of a client that does not read, so the bound only
 * starts to count once they are full; it is what keeps this process's
 * memory per non-reading client bounded.
 */
export const mayDeliver = (pending: number, frameBytes: number, bound = SLOW_CLIENT_BYTES) =>
  pending === 0 || pending + frameBytes <= bound
