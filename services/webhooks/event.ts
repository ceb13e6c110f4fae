import type { RefType } from '../../schemas/refresh.js'
import type { WebhookMeaning } from './providers.js'

// What a delivery means for the cache, whoever sent it: refresh, or ignore
// and say why.

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
  meaning: WebhookMeaning,
  target: { ref: string; refType: RefType },
): WebhookDecision {
  if (meaning.kind === 'ping') return { action: 'ignore', reason: 'ping event: webhook is set up' }
  // Any other event (a release, a merge request…) may have changed the
  // revision: a refresh that finds nothing new costs one ls-remote.
  if (meaning.kind === 'other' || meaning.refs === null) return { action: 'refresh' }
  if (target.refType === 'commit') {
    return { action: 'ignore', reason: `revision is pinned to commit ${target.ref.slice(0, 12)}` }
  }
  const wanted = target.refType === 'tag' ? `refs/tags/${target.ref}` : `refs/heads/${target.ref}`
  if (!meaning.refs.includes(wanted)) {
    const pushed = meaning.refs.length > 0 ? meaning.refs.join(', ') : 'no branch or tag (deleted)'
    return { action: 'ignore', reason: `push to ${pushed} does not match ${wanted}` }
  }
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
