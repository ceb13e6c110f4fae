import { type NotifyEvent, plainTextOf, type Severity, severityOf, titleOf } from '../events.js'
import { displayOf, type ParsedChannel, post, withoutUserInfo } from '../request.js'

// ntfy+https://ntfy.sh/<topic>: ntfy's publish API (docs.ntfy.sh/publish/):
// a POST to the topic URL whose body is the message, with the title,
// priority and tags as headers (`Title`, `Priority` one of min, low,
// default, high, max/urgent, `Tags` comma-separated, an emoji short code
// becoming an emoji) and `Click` for the URL opened by a tap.
//
// Header values must be ASCII on the wire; ntfy accepts RFC 2047 encoded
// words for anything else (the publish page's note on UTF-8 in headers), so
// a title with a non-ASCII commit subject or stack name is sent as
// `=?UTF-8?B?…?=`.
//
// Protected topics: `ntfy+https://user:pass@host/topic` sends Basic
// credentials, `ntfy+https://:tk_…@host/topic` an access token as Bearer
// (docs.ntfy.sh/publish/#authentication); neither stays in the URL.

const PRIORITY: Record<Severity, string> = {
  failure: 'high',
  warning: 'default',
  success: 'default',
  info: 'default',
}

const EMOJI_TAG: Record<Severity, string> = {
  failure: 'rotating_light',
  warning: 'warning',
  success: 'white_check_mark',
  info: 'information_source',
}

/** RFC 2047 `encoded-word` for a header value that is not plain printable ASCII. */
export function headerValue(text: string): string {
  const oneLine = text.replace(/[\r\n]+/g, ' ')
  return /^[\x20-\x7e]*$/.test(oneLine)
    ? oneLine
    : `=?UTF-8?B?${Buffer.from(oneLine, 'utf8').toString('base64')}?=`
}

export function ntfyHeaders(event: NotifyEvent): Record<string, string> {
  const severity = severityOf(event)
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    title: headerValue(titleOf(event)),
    priority: PRIORITY[severity],
    tags: `${EMOJI_TAG[severity]},${event.event}`,
  }
  if (event.url) headers.click = event.url
  return headers
}

export function parseNtfy(url: URL): ParsedChannel {
  const topic = url.pathname.split('/').filter(Boolean).at(-1)
  if (topic === undefined) return { problem: 'the URL names no topic (ntfy+https://host/<topic>)' }
  const user = decodeURIComponent(url.username)
  const pass = decodeURIComponent(url.password)
  const authorization =
    user !== ''
      ? `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
      : pass !== ''
        ? `Bearer ${pass}`
        : undefined
  const href = withoutUserInfo(url).href
  return {
    kind: 'ntfy',
    display: displayOf('ntfy', url),
    request(event) {
      const headers = ntfyHeaders(event)
      if (authorization) headers.authorization = authorization
      return post(href, plainTextOf(event), headers)
    },
  }
}
