// Bounds on long-lived responses (archive downloads, event-feed
// subscriptions): a client may hold at most `perClient` at a time, and the
// service at most `total`, so one client that opens many and never reads
// cannot tie up git processes, descriptors and buffers without end.

export type SlotRefusal = { scope: 'client' | 'total'; limit: number }

export type SlotLimits = { perClient: number; total: number }

export function createStreamSlots(limits: SlotLimits) {
  const byClient = new Map<string, number>()
  let inUse = 0

  /** Takes a slot for `client`; returns its release (idempotent), or why not. */
  function acquire(client: string): { release: () => void } | { refused: SlotRefusal } {
    const held = byClient.get(client) ?? 0
    if (held >= limits.perClient) return { refused: { scope: 'client', limit: limits.perClient } }
    if (inUse >= limits.total) return { refused: { scope: 'total', limit: limits.total } }
    byClient.set(client, held + 1)
    inUse++
    let released = false
    return {
      release() {
        if (released) return
        released = true
        inUse--
        const left = (byClient.get(client) ?? 1) - 1
        if (left === 0) byClient.delete(client)
        else byClient.set(client, left)
      },
    }
  }

  return { acquire, inUse: () => inUse, limits }
}

export type StreamSlots = ReturnType<typeof createStreamSlots>
