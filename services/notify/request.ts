import type { NotifyEvent } from './events.js'

// What a channel produces: the exact request its service documents, as plain
// data. Channels are pure formatters (easy to test against the documented
// shape); sending, timeouts and retries belong to delivery.ts alone.
//
// A Channel carries its secrets (webhook tokens, passwords) only inside the
// closure of `request`, never as a property: logging, JSON-serialising or
// inspecting a Channel shows its kind and `display` (kind and host), nothing
// an operator pasted as a secret.

export const CHANNEL_KINDS = [
  'generic',
  'slack',
  'discord',
  'teams',
  'ntfy',
  'gotify',
  'apprise',
  'smtp',
] as const

export type ChannelKind = (typeof CHANNEL_KINDS)[number]

export type HttpRequest = {
  transport: 'http'
  method: 'POST'
  url: string
  headers: Record<string, string>
  body: string
}

export type MailMessage = {
  transport: 'smtp'
  server: {
    host: string
    port: number
    /** Implicit TLS from the first byte (smtps); otherwise STARTTLS when offered. */
    secure: boolean
    user?: string
    pass?: string
  }
  from: string
  to: string[]
  subject: string
  text: string
}

export type ChannelRequest = HttpRequest | MailMessage

export type Channel = {
  kind: ChannelKind
  /** Kind and host only (e.g. `slack hooks.slack.com`): safe for logs, status page, metrics. */
  display: string
  request(event: NotifyEvent): ChannelRequest
}

/** What a channel parser answers: the channel, or a problem in words (never the URL). */
export type ParsedChannel = Channel | { problem: string }

/** A POST of a body already serialised (header names in lower case). */
export function post(url: string, body: string, headers: Record<string, string>): HttpRequest {
  return {
    transport: 'http',
    method: 'POST',
    url,
    headers: { 'user-agent': 'docker-cd', ...headers },
    body,
  }
}

/** A JSON POST, the shape most webhook services take. */
export function jsonPost(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): HttpRequest {
  return post(url, JSON.stringify(body), {
    'content-type': 'application/json; charset=utf-8',
    ...headers,
  })
}

/** `slack hooks.slack.com`; a plain-http receiver says so, since nothing protects it in transit. */
export function displayOf(kind: ChannelKind, url: URL): string {
  return `${kind} ${url.host}${url.protocol === 'http:' ? ' (http)' : ''}`
}

/** The URL without user info (which channels turn into headers instead). */
export function withoutUserInfo(url: URL): URL {
  const copy = new URL(url.href)
  copy.username = ''
  copy.password = ''
  return copy
}
