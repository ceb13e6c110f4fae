import type { ConnectionOptions } from 'node:tls'
import { createHttpSender } from './http-sender.js'
import { createMailSender } from './mail-sender.js'
import type { ChannelRequest } from './request.js'

// One attempt at one request, answered as data: delivered, or not with a
// reason in words and whether another try may help (network errors, 5xx,
// 429 and SMTP 4xx may; other 4xx, SMTP 5xx, authentication and TLS trust
// failures will not); a delivery with a caveat (an e-mail some recipients
// refused) carries a note. Retrying, timing out and queueing are delivery.ts's.
// Tests inject their own Transport; the default one speaks HTTP with undici
// and SMTP with nodemailer.

export type SendOutcome =
  | { ok: true; note?: string }
  | { ok: false; reason: string; retry: boolean; retryAfterMs?: number }

export type Transport = {
  send(request: ChannelRequest, signal: AbortSignal): Promise<SendOutcome>
  /** Releases sockets; attempts still running are aborted. */
  close(): Promise<void>
}

export type TransportOptions = {
  /** Per-connection limit for SMTP's own timers (connect, greeting, idle socket). */
  timeoutMs: number
  /** Extra TLS options for SMTP (a private CA); HTTPS uses Node's trust store. */
  mailTls?: ConnectionOptions
}

export function createTransport(options: TransportOptions): Transport {
  const http = createHttpSender()
  const mail = createMailSender(options)
  return {
    send: (request, signal) =>
      request.transport === 'http' ? http.send(request, signal) : mail.send(request, signal),
    close: () => http.close(),
  }
}
