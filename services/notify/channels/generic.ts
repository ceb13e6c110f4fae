import { createHmac } from 'node:crypto'
import type { NotifyEvent } from '../events.js'
import { displayOf, type ParsedChannel, post, withoutUserInfo } from '../request.js'

// generic+https://receiver.example/hook?secret=…: docker-cd's own JSON
// schema (the NotifyEvent, field for field), for receivers someone writes
// themselves (n8n, Node-RED, a small script).
//
// With a `secret` query parameter the body is signed the way GitHub signs
// its webhook deliveries (docs.github.com/en/webhooks/using-webhooks/
// validating-webhook-deliveries): `sha256=` + the hex HMAC-SHA256 of the raw
// body, here in `X-Docker-CD-Signature-256`. The parameter is removed from
// the URL before sending, so the secret never travels, and never lands in the
// receiver's access log.

const SIGNATURE_HEADER = 'x-docker-cd-signature-256'

/** The body as sent: the event's own fields in a fixed order, nothing else. */
export function genericBody(event: NotifyEvent): string {
  return JSON.stringify({
    version: event.version,
    event: event.event,
    instance: event.instance,
    stack: event.stack,
    revision: event.revision,
    subject: event.subject,
    reason: event.reason,
    at: event.at,
    rolledBackTo: event.rolledBackTo,
    url: event.url,
  })
}

export function genericSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

export function parseGeneric(url: URL): ParsedChannel {
  const target = withoutUserInfo(url)
  const secrets = target.searchParams.getAll('secret')
  if (secrets.length > 1) return { problem: 'more than one secret= parameter' }
  const secret = secrets[0]
  if (secret === '') return { problem: 'the secret= parameter is empty' }
  target.searchParams.delete('secret')
  // Basic credentials in the URL (https://user:pass@host) are what most
  // hand-written receivers check; they travel as a header, not in the URL.
  const authorization =
    url.username || url.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
      : undefined
  const href = target.href
  return {
    kind: 'generic',
    display: displayOf('generic', url),
    request(event) {
      const body = genericBody(event)
      const request = post(href, body, {
        'content-type': 'application/json; charset=utf-8',
        'x-docker-cd-event': event.event,
      })
      if (secret !== undefined) request.headers[SIGNATURE_HEADER] = genericSignature(secret, body)
      if (authorization) request.headers.authorization = authorization
      return request
    },
  }
}
