import type { ConnectionOptions } from 'node:tls'
import nodemailer from 'nodemailer'
import { networkFailure } from '../base/index.js'
import type { MailMessage } from './request.js'
import type { SendOutcome } from './transport.js'

// E-mail with nodemailer: one connection per message (notifications are
// rare; a pool would hold a connection open to a server for nothing).
// smtp:// upgrades with STARTTLS whenever the server offers it (nodemailer
// does unless told to ignore it) and fails rather than fall back to plain
// text when the upgrade fails; smtps:// is TLS from the first byte. The
// message's AbortSignal goes to nodemailer, which closes the connection on
// abort.

export function createMailSender({
  timeoutMs,
  mailTls,
}: {
  timeoutMs: number
  mailTls?: ConnectionOptions
}) {
  async function send(message: MailMessage, signal: AbortSignal): Promise<SendOutcome> {
    const { server } = message
    const transport = nodemailer.createTransport({
      host: server.host,
      port: server.port,
      secure: server.secure,
      ...(server.user === undefined
        ? {}
        : { auth: { user: server.user, pass: server.pass ?? '' } }),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      ...(mailTls ? { tls: mailTls } : {}),
    })
    try {
      const info = await transport.sendMail({
        from: message.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        signal,
      })
      // Some recipients accepted, some refused: the message went out (a
      // retry would send it twice to the others), but say who did not get it.
      const refused = info.rejected?.length ?? 0
      return refused === 0
        ? { ok: true }
        : { ok: true, note: `${refused} of ${message.to.length} recipients refused` }
    } catch (error) {
      if (signal.aborted) return { ok: false, reason: 'aborted', retry: true }
      return mailFailure(error)
    } finally {
      transport.close()
    }
  }
  return { send }
}

/** SMTP's reply codes say it all: 4xx is "try later", 5xx is "no". */
export function mailFailure(error: unknown): SendOutcome & { ok: false } {
  const { responseCode, code, originalCode } = (error ?? {}) as {
    responseCode?: unknown
    code?: unknown
    originalCode?: unknown
  }
  if (code === 'EAUTH') return { ok: false, reason: 'SMTP authentication failed', retry: false }
  if (typeof responseCode === 'number') {
    const retry = responseCode >= 400 && responseCode < 500
    return { ok: false, reason: `SMTP ${responseCode}`, retry }
  }
  if (code === 'ETLS') return { ok: false, reason: 'STARTTLS failed', retry: false }
  if (code === 'EENVELOPE') return { ok: false, reason: 'SMTP refused an address', retry: false }
  // nodemailer files socket and TLS failures under ESOCKET and keeps the
  // underlying code (ECONNREFUSED, a certificate's) as originalCode.
  if (typeof originalCode === 'string')
    return { ok: false, ...networkFailure({ code: originalCode }) }
  return { ok: false, ...networkFailure(error) }
}
