import { type NotifyEvent, plainTextOf, titleOf } from '../events.js'
import type { MailMessage, ParsedChannel } from '../request.js'

// smtp://user:pass@host:port/?from=…&to=… and smtps://…: e-mail through the
// operator's own mail server, sent by nodemailer (delivery.ts).
// - smtp:// connects in plain text and upgrades with STARTTLS whenever the
//   server offers it (nodemailer's default); port 587 (submission) unless
//   given.
// - smtps:// is TLS from the first byte (RFC 8314 "implicit TLS"); port 465
//   unless given.
// Several recipients: `to=a@x.org,b@x.org` or `to=` repeated.

export type SmtpAddresses = { from: string; to: string[] }

const ADDRESS = /^[^\s@<>,;]+@[^\s@<>,;]+$/

export function mailOf(event: NotifyEvent, addresses: SmtpAddresses) {
  return {
    from: addresses.from,
    to: addresses.to,
    subject: `[docker-cd ${event.instance}] ${titleOf(event)}`.replace(/[\r\n]+/g, ' '),
    text: plainTextOf(event),
  }
}

export function parseSmtp(url: URL): ParsedChannel {
  const secure = url.protocol === 'smtps:'
  const kind = secure ? 'smtps' : 'smtp'
  if (url.hostname === '') return { problem: `the URL names no mail server (${kind}://host:port/)` }
  const from = url.searchParams.get('from')?.trim() ?? ''
  const to = url.searchParams
    .getAll('to')
    .flatMap((value) => value.split(','))
    .map((address) => address.trim())
    .filter((address) => address !== '')
  if (from === '') return { problem: 'no from= address' }
  if (!ADDRESS.test(from)) return { problem: 'the from= address is not an e-mail address' }
  if (to.length === 0) return { problem: 'no to= address' }
  if (!to.every((address) => ADDRESS.test(address)))
    return { problem: 'a to= address is not an e-mail address' }
  const port = url.port === '' ? (secure ? 465 : 587) : Number(url.port)
  const user = decodeURIComponent(url.username)
  const pass = decodeURIComponent(url.password)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') // [::1] → ::1 for the socket
  const server: MailMessage['server'] = { host, port, secure }
  if (user !== '') Object.assign(server, { user, pass })
  return {
    kind: 'smtp',
    display: `${kind} ${url.host}`,
    request: (event) => ({ transport: 'smtp', server, ...mailOf(event, { from, to }) }),
  }
}
