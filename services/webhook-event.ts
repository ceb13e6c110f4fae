import type { RefType } from '../schemas/refresh.js'

// What a GitHub delivery means for the cache: refresh, or ignore and say why.

type WebhookDecision = { action: 'refresh' } | { action: 'ignore'; reason: string }

/** Parses a JSON or form-encoded (`payload=`) delivery body. */
export function parseWebhookBody(body: Buffer, contentType: string): unknown {
  const text = body.toString('utf8')
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload')
    if (payload === null) throw new Error('form-encoded delivery without a payload field')
    return JSON.parse(payload)
  }
  return text.trim() === '' ? {} : JSON.parse(text)
}

export function decideWebhook(
  event: string | undefined,
  payload: unknown,
  target: { ref: string; refType: RefType },
): WebhookDecision {
  if (event === 'ping') return { action: 'ignore', reason: 'ping event: webhook is set up' }
  if (event !== 'push') return { action: 'refresh' }
  const pushedRef = (payload as { ref?: unknown } | null)?.ref
  if (typeof pushedRef !== 'string') return { action: 'refresh' }
  if (target.refType === 'commit') {
    return { action: 'ignore', reason: `revision is pinned to commit ${target.ref.slice(0, 12)}` }
  }
  const wanted = target.refType === 'tag' ? `refs/tags/${target.ref}` : `refs/heads/${target.ref}`
  if (pushedRef !== wanted)
    return { action: 'ignore', reason: `push to ${pushedRef} does not match ${wanted}` }
  return { action: 'refresh' }
}

/** Remembers delivery ids (bounded, oldest forgotten first), since Git hosts redeliver. */
export function createDeliveryLog(capacity = 1000) {
  const seen = new Set<string>()
  return {
    has: (id: string) => seen.has(id),
    add(id: string) {
      seen.add(id)
      if (seen.size > capacity) seen.delete(seen.values().next().value as string)
    },
  }
}
