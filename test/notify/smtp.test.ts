import type { AddressInfo } from 'node:net'
import { simpleParser } from 'mailparser'
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server'
import t, { type Test } from 'tap'
import {
  createDelivery,
  type DeliveryResult,
  type NotifyEvent,
  parseNotifyUrls,
  plainTextOf,
  titleOf,
} from '../../services/notify/index.js'
import { createCertificate } from '../helpers/git-server.js'
import { eventOf, failedEvent } from '../helpers/notify-events.js'
import { until } from '../helpers/notify-receiver.js'
import { tempDir } from '../helpers/temp-dir.js'

// E-mail through a real SMTP server on loopback (the smtp-server package):
// STARTTLS when the server offers it, implicit TLS for smtps://, the login,
// and SMTP's own answers (5xx not retried, 4xx retried), each message parsed
// back with mailparser.

const tls = createCertificate(tempDir('notify-smtp-'))

type Received = {
  session: SMTPServerSession
  subject?: string
  from?: string
  to: string[]
  text?: string
}

async function startSmtp(t: Test, options: Partial<SMTPServerOptions> = {}) {
  const received: Received[] = []
  const server = new SMTPServer({
    key: tls.key,
    cert: tls.cert,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'alerts' && auth.password === 'p@ss-w0rd')
        callback(null, { user: 'alerts' })
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }))
    },
    async onData(stream, session, callback) {
      const mail = await simpleParser(stream)
      const to = Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : []
      received.push({
        session,
        subject: mail.subject,
        from: mail.from?.text,
        to: to.flatMap((address) => address.value.map((v) => v.address ?? '')),
        text: mail.text,
      })
      callback()
    },
    ...options,
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as AddressInfo
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port, received }
}

async function send(t: Test, url: string, event: NotifyEvent = failedEvent, trustCa = true) {
  const { channels, problems } = parseNotifyUrls(url)
  t.same(problems, [])
  const results: DeliveryResult[] = []
  const delivery = createDelivery({
    channels,
    timeoutMs: 5000,
    retries: 2,
    backoff: () => 20,
    onResult: (result) => results.push(result),
    ...(trustCa ? { mailTls: { ca: tls.cert } } : {}),
  })
  delivery.enqueue(event)
  await until(() => results.length === 1, 'a result')
  await delivery.close(0)
  return results[0] as DeliveryResult
}

const QUERY = '?from=docker-cd@example.org&to=ops@example.org,oncall@example.org'

t.test('smtp:// upgrades with STARTTLS when offered, logs in, delivers the message', async (t) => {
  const server = await startSmtp(t)
  const result = await send(t, `smtp://alerts:p%40ss-w0rd@127.0.0.1:${server.port}/${QUERY}`)
  t.match(result, { kind: 'smtp', outcome: 'delivered', attempts: 1 })
  t.equal(server.received.length, 1)
  const mail = server.received[0] as Received
  t.equal(mail.session.secure, true, 'the session was upgraded to TLS')
  t.equal(mail.session.user, 'alerts')
  t.equal(mail.subject, `[docker-cd prod-1] ${titleOf(failedEvent)}`)
  t.equal(mail.from, 'docker-cd@example.org')
  t.same(mail.to, ['ops@example.org', 'oncall@example.org'])
  t.equal(mail.text?.trim(), plainTextOf(failedEvent))
})

t.test('smtps:// is TLS from the first byte', async (t) => {
  const server = await startSmtp(t, { secure: true })
  const result = await send(t, `smtps://alerts:p%40ss-w0rd@127.0.0.1:${server.port}/${QUERY}`)
  t.match(result, { outcome: 'delivered' })
  t.equal(server.received[0]?.session.secure, true)
})

t.test('a server that offers no STARTTLS and no login takes the mail in plain text', async (t) => {
  const server = await startSmtp(t, { disabledCommands: ['STARTTLS', 'AUTH'], authOptional: true })
  const result = await send(t, `smtp://127.0.0.1:${server.port}/${QUERY}`, eventOf('recovered'))
  t.match(result, { outcome: 'delivered' })
  t.equal(server.received[0]?.session.secure, false)
  t.match(server.received[0]?.subject, 'web recovered')
})

t.test(
  'an untrusted certificate on STARTTLS fails instead of falling back to plain text',
  async (t) => {
    const server = await startSmtp(t)
    const result = await send(
      t,
      `smtp://alerts:p%40ss-w0rd@127.0.0.1:${server.port}/${QUERY}`,
      failedEvent,
      false,
    )
    t.match(result, { outcome: 'dropped', attempts: 1 })
    t.equal(result.reason, 'TLS certificate not trusted (self-signed)')
    t.equal(server.received.length, 0)
  },
)

t.test('a wrong password is told once, not retried, and not echoed', async (t) => {
  const server = await startSmtp(t)
  const result = await send(t, `smtp://alerts:wrong-hunter2@127.0.0.1:${server.port}/${QUERY}`)
  t.match(result, { outcome: 'dropped', attempts: 1, reason: 'SMTP authentication failed' })
  t.notMatch(JSON.stringify(result), 'hunter2')
})

t.test('SMTP 5xx is final, 4xx is tried again', async (t) => {
  const refusing = await startSmtp(t, {
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error('No such user'), { responseCode: 550 }))
    },
  })
  const refused = await send(t, `smtp://alerts:p%40ss-w0rd@127.0.0.1:${refusing.port}/${QUERY}`)
  t.match(refused, { outcome: 'dropped', attempts: 1 })
  t.equal(refused.reason, 'SMTP 550')

  // The first connection is told to come back later for every recipient.
  let firstSession: string | undefined
  const busy = await startSmtp(t, {
    onRcptTo(_address, session, callback) {
      firstSession ??= session.id
      if (session.id === firstSession)
        callback(Object.assign(new Error('Try again later'), { responseCode: 451 }))
      else callback()
    },
  })
  const later = await send(t, `smtp://alerts:p%40ss-w0rd@127.0.0.1:${busy.port}/${QUERY}`)
  t.match(later, { outcome: 'delivered', attempts: 2 })
  t.equal(busy.received.length, 1)
})

t.test('some recipients refused: delivered, with a note saying so', async (t) => {
  const server = await startSmtp(t, {
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('oncall@'))
        callback(Object.assign(new Error('No such user'), { responseCode: 550 }))
      else callback()
    },
  })
  const result = await send(t, `smtp://alerts:p%40ss-w0rd@127.0.0.1:${server.port}/${QUERY}`)
  t.match(result, { outcome: 'delivered', attempts: 1, note: '1 of 2 recipients refused' })
  t.same(server.received[0]?.to, ['ops@example.org', 'oncall@example.org'], 'headers name both')
})
