import { type NotifyEvent, plainTextOf, type Severity, severityOf, titleOf } from '../events.js'
import { displayOf, jsonPost, type ParsedChannel } from '../request.js'

// gotify+https://gotify.example/?token=<app token>: Gotify's push API
// (gotify.net/docs/pushmsg): POST /message?token=<apptoken> with `title`,
// `message` (the only required field) and `priority`; the server's API
// description (gotify.net/api-docs, Message model) takes the same fields as
// JSON. `extras` per gotify.net/docs/msgextras: `client::display` with
// `contentType: text/plain`, and `client::notification.click.url` so a tap
// opens the stack page.
//
// Priority 8 and above is what Gotify's Android client treats as high
// (alerting even when quiet), so failures get 8 and the rest 5.

const PRIORITY: Record<Severity, number> = { failure: 8, warning: 5, success: 5, info: 5 }

export function gotifyPayload(event: NotifyEvent) {
  const extras: Record<string, unknown> = { 'client::display': { contentType: 'text/plain' } }
  if (event.url) extras['client::notification'] = { click: { url: event.url } }
  return {
    title: titleOf(event),
    message: plainTextOf(event),
    priority: PRIORITY[severityOf(event)],
    extras,
  }
}

export function parseGotify(url: URL): ParsedChannel {
  const token = url.searchParams.get('token')
  if (!token) return { problem: 'no token= parameter (the application token from Gotify)' }
  // The server may live under a sub-path (https://host/gotify/?token=…):
  // /message is appended to it unless the operator pasted it already.
  const target = new URL(url.href)
  if (!target.pathname.endsWith('/message'))
    target.pathname = `${target.pathname.replace(/\/+$/, '')}/message`
  const href = target.href
  return {
    kind: 'gotify',
    display: displayOf('gotify', url),
    request: (event) => jsonPost(href, gotifyPayload(event)),
  }
}
