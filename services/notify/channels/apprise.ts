import { type NotifyEvent, plainTextOf, severityOf, titleOf } from '../events.js'
import { displayOf, jsonPost, type ParsedChannel } from '../request.js'

// apprise+https://apprise.example/notify/<key>: an Apprise API server
// (github.com/caronc/apprise-api, README "Persistent Storage Solution"):
// POST /notify/{KEY} with `body` (the only required field), `title`, `type`
// (info, success, warning or failure), `format` (text, markdown, html) and
// optionally `tag`; JSON when the Content-Type says application/json. The
// server then fans the message out to every service configured under that
// key, which is how one URL here reaches Apprise's hundred services.
//
// `?tag=devops` on the pasted URL is moved into the body's `tag`, where the
// API reads it. `/notify` without a key uses the server's
// APPRISE_STATELESS_URLS, which the API also documents.

export function apprisePayload(event: NotifyEvent, tag?: string) {
  return {
    title: titleOf(event),
    body: plainTextOf(event),
    type: severityOf(event),
    format: 'text',
    ...(tag ? { tag } : {}),
  }
}

export function parseApprise(url: URL): ParsedChannel {
  if (!/\/notify(?:\/[A-Za-z0-9_-]{1,64})?\/?$/.test(url.pathname))
    return { problem: 'the path must be /notify/<key> (the key of an Apprise API configuration)' }
  const target = new URL(url.href)
  const tag = target.searchParams.get('tag') ?? undefined
  target.searchParams.delete('tag')
  const href = target.href
  return {
    kind: 'apprise',
    display: displayOf('apprise', url),
    request: (event) => jsonPost(href, apprisePayload(event, tag)),
  }
}
