import { acceptedMessage } from '../../schemas/api.js'
import type { RefType } from '../../schemas/refresh.js'
import { createDeliveryLog, decideWebhook, parseWebhookBody } from './event.js'
import { detectProvider, type ProviderName } from './providers.js'

// A webhook delivery from verification to refresh: verify the signature over
// the raw bytes → parse → skip redeliveries → decide → ask for a refresh.
// Plain TypeScript; the route only maps the result to HTTP.

type WebhookDelivery = {
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  contentType: string
}

type Common = { provider: ProviderName; delivery: string | undefined; event: string | undefined }

type WebhookResult = Common &
  (
    | {
        status: 'rejected'
        statusCode: 400 | 401
        result: 'unauthorized' | 'bad_request'
        message: string
      }
    | { status: 'ignored'; result: 'ignored' | 'duplicate'; message: string }
    | { status: 'refreshing' | 'queued'; result: 'refreshing' | 'queued'; message: string }
  )

export function createWebhookReceiver(deps: {
  secret: string | undefined
  /** What the cache follows, read at delivery time (a refresh may learn the ref type). */
  target: () => { ref: string; refType: RefType }
  refresh: () => { status: 'refreshing' | 'queued' }
}) {
  // Ids of deliveries that were accepted for a refresh. Only those: a
  // redelivered ping or ignored push is answered as it was the first time.
  const accepted = createDeliveryLog()

  return function receive({ headers, body, contentType }: WebhookDelivery): WebhookResult {
    const provider = detectProvider(headers)
    const delivery = provider.delivery(headers)
    const event = provider.event(headers)
    const common = { provider: provider.name, delivery, event }
    if (deps.secret) {
      const check = provider.verify(deps.secret, body, headers)
      if (!check.valid) {
        return {
          ...common,
          status: 'rejected',
          statusCode: 401,
          result: 'unauthorized',
          message: check.reason,
        }
      }
    }
    let payload: unknown
    try {
      payload = parseWebhookBody(body, contentType)
    } catch (error) {
      return {
        ...common,
        status: 'rejected',
        statusCode: 400,
        result: 'bad_request',
        message: `unreadable delivery body: ${(error as Error).message}`,
      }
    }
    const decision = decideWebhook(provider.meaning(event, payload), deps.target())
    if (decision.action === 'ignore') {
      return { ...common, status: 'ignored', result: 'ignored', message: decision.reason }
    }
    // Delivery ids are unique per host, not across hosts.
    const deliveryKey = delivery && `${provider.name}:${delivery}`
    if (deliveryKey && accepted.has(deliveryKey)) {
      return {
        ...common,
        status: 'ignored',
        result: 'duplicate',
        message: `delivery ${delivery} was already accepted`,
      }
    }
    if (deliveryKey) accepted.add(deliveryKey)
    const { status } = deps.refresh()
    return { ...common, status, result: status, message: acceptedMessage(status) }
  }
}
