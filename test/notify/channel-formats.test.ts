import { createHmac } from 'node:crypto'
import t from 'tap'
import {
  type Channel,
  type HttpRequest,
  type MailMessage,
  parseNotifyUrls,
  plainTextOf,
  summaryOf,
  titleOf,
} from '../../services/notify/index.js'
import { engineDownEvent, failedEvent } from '../helpers/notify-events.js'

// Each channel renders an event into the request its service documents
// (the source is cited in each channel's file). Asserted field for field, so
// a change of shape is a decision, not an accident.

function channel(url: string): Channel {
  const { channels, problems } = parseNotifyUrls(url)
  if (problems.length > 0 || channels.length !== 1) throw new Error(problems.join('; '))
  return channels[0] as Channel
}

function http(url: string, event = failedEvent): HttpRequest & { json: unknown } {
  const request = channel(url).request(event)
  if (request.transport !== 'http') throw new Error('expected HTTP')
  return {
    ...request,
    json: request.headers['content-type']?.startsWith('application/json')
      ? JSON.parse(request.body)
      : undefined,
  }
}

t.test('generic: the NotifyEvent as JSON, signed with the secret, which is not sent', async (t) => {
  const request = http('generic+https://hooks.example.org/docker-cd?secret=s3cret-value&team=ops')
  t.equal(request.method, 'POST')
  t.equal(
    request.url,
    'https://hooks.example.org/docker-cd?team=ops',
    'secret removed, the rest kept',
  )
  t.same(request.json, failedEvent)
  t.equal(request.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(request.headers['x-docker-cd-event'], 'failed')
  t.equal(
    request.headers['x-docker-cd-signature-256'],
    `sha256=${createHmac('sha256', 's3cret-value').update(request.body).digest('hex')}`,
  )
  t.notMatch(JSON.stringify(request.headers), /s3cret-value/)

  const unsigned = http('generic+http://10.0.0.5:8080/hook')
  t.equal(unsigned.headers['x-docker-cd-signature-256'], undefined, 'no secret, no signature')
  t.equal(unsigned.url, 'http://10.0.0.5:8080/hook')
  t.same(
    Object.keys(JSON.parse(http('generic+https://h.example/x', engineDownEvent).body)),
    ['version', 'event', 'instance', 'reason', 'at'],
    'absent fields are absent, not null',
  )

  const basic = http('generic+https://bot:pa%24s@hooks.example.org/x')
  t.equal(basic.url, 'https://hooks.example.org/x', 'credentials leave the URL')
  t.equal(basic.headers.authorization, `Basic ${Buffer.from('bot:pa$s').toString('base64')}`)
})

t.test('slack: text plus blocks (header, section, fields, button)', async (t) => {
  const request = http('slack+https://hooks.slack.com/services/T000/B000/XXXX')
  t.equal(request.url, 'https://hooks.slack.com/services/T000/B000/XXXX')
  t.same(request.json, {
    text: summaryOf(failedEvent),
    blocks: [
      {
        type: 'header',
        text: { type: 'plain_text', text: titleOf(failedEvent), emoji: true },
      },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `:red_circle: ${failedEvent.reason}` },
      },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*Stack*\nweb' },
          { type: 'mrkdwn', text: '*Host*\nprod-1' },
          { type: 'mrkdwn', text: '*Commit*\n3f2a1c0 Raise the worker count' },
          { type: 'mrkdwn', text: '*Rolled back to*\n1b2c3d4' },
          { type: 'mrkdwn', text: '*At*\n2026-12-03T03:04:05.000Z' },
        ],
      },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: 'Open stack page' },
            url: 'https://cd.example.org/stacks/web',
          },
        ],
      },
    ],
  })
  const hostile = http('slack+https://hooks.slack.com/services/T/B/X', {
    ...failedEvent,
    subject: 'Ping <!channel> & co',
  })
  const fields = (hostile.json as { blocks: Array<{ fields?: Array<{ text: string }> }> }).blocks[2]
  t.match(fields?.fields?.[2]?.text, 'Ping &lt;!channel&gt; &amp; co', 'markup escaped')
  const long = http('slack+https://hooks.slack.com/services/T/B/X', {
    ...failedEvent,
    stack: 'x'.repeat(400),
  })
  const header = (long.json as { blocks: Array<{ text?: { text: string } }> }).blocks[0]
  t.equal(header?.text?.text.length, 150, 'header cut to Slack’s 150 characters')
})

t.test('discord: content plus one embed, coloured by severity, no mentions', async (t) => {
  const request = http('discord+https://discord.com/api/webhooks/123/abc-token')
  t.same(request.json, {
    content: titleOf(failedEvent),
    embeds: [
      {
        title: titleOf(failedEvent),
        description: failedEvent.reason,
        color: 0xed4245,
        timestamp: failedEvent.at,
        fields: [
          { name: 'Stack', value: 'web', inline: true },
          { name: 'Host', value: 'prod-1', inline: true },
          { name: 'Commit', value: '3f2a1c0 Raise the worker count', inline: false },
          { name: 'Rolled back to', value: '1b2c3d4', inline: true },
        ],
        footer: { text: 'docker-cd on prod-1' },
        url: 'https://cd.example.org/stacks/web',
      },
    ],
    allowed_mentions: { parse: [] },
  })
  const recovered = http('discord+https://discord.com/api/webhooks/123/abc', {
    ...failedEvent,
    event: 'recovered',
  })
  t.equal((recovered.json as { embeds: Array<{ color: number }> }).embeds[0]?.color, 0x57f287)
})

t.test('teams: a message with one Adaptive Card attachment', async (t) => {
  const request = http(
    'teams+https://prod-00.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=xyz',
  )
  t.same(request.json, {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              text: titleOf(failedEvent),
              weight: 'bolder',
              size: 'medium',
              color: 'attention',
              wrap: true,
            },
            { type: 'TextBlock', text: failedEvent.reason, wrap: true },
            {
              type: 'FactSet',
              facts: [
                { title: 'Stack', value: 'web' },
                { title: 'Host', value: 'prod-1' },
                { title: 'Commit', value: '3f2a1c0 Raise the worker count' },
                { title: 'Rolled back to', value: '1b2c3d4' },
                { title: 'At', value: '2026-12-03T03:04:05.000Z' },
              ],
            },
          ],
          actions: [
            {
              type: 'Action.OpenUrl',
              title: 'Open stack page',
              url: 'https://cd.example.org/stacks/web',
            },
          ],
        },
      },
    ],
  })
})

t.test('ntfy: body text, Title/Priority/Tags/Click headers, credentials as headers', async (t) => {
  const request = http('ntfy+https://ntfy.sh/deploys-7f3a')
  t.equal(request.url, 'https://ntfy.sh/deploys-7f3a')
  t.equal(request.body, plainTextOf(failedEvent))
  t.same(request.headers, {
    'user-agent': 'docker-cd',
    'content-type': 'text/plain; charset=utf-8',
    title: titleOf(failedEvent),
    priority: 'high',
    tags: 'rotating_light,failed',
    click: 'https://cd.example.org/stacks/web',
  })
  const quiet = http('ntfy+http://ntfy.lan/ops', {
    ...failedEvent,
    event: 'deployed',
    url: undefined,
  })
  t.equal(quiet.headers.priority, 'default')
  t.equal(quiet.headers.tags, 'white_check_mark,deployed')
  t.equal(quiet.headers.click, undefined)

  const unicode = http('ntfy+https://ntfy.sh/t', { ...failedEvent, stack: 'café' })
  t.match(unicode.headers.title, /^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/, 'RFC 2047 for non-ASCII')
  t.equal(
    Buffer.from((unicode.headers.title as string).slice(10, -2), 'base64').toString('utf8'),
    titleOf({ ...failedEvent, stack: 'café' }),
  )

  const token = http('ntfy+https://:tk_abcdef@ntfy.example.org/alerts')
  t.equal(token.url, 'https://ntfy.example.org/alerts')
  t.equal(token.headers.authorization, 'Bearer tk_abcdef')
  const basic = http('ntfy+https://phil:secret@ntfy.example.org/alerts')
  t.equal(basic.headers.authorization, `Basic ${Buffer.from('phil:secret').toString('base64')}`)
})

t.test('gotify: POST /message?token=… with title, message, priority, extras', async (t) => {
  const request = http('gotify+https://push.example.org/?token=AbC.dEf')
  t.equal(request.url, 'https://push.example.org/message?token=AbC.dEf')
  t.same(request.json, {
    title: titleOf(failedEvent),
    message: plainTextOf(failedEvent),
    priority: 8,
    extras: {
      'client::display': { contentType: 'text/plain' },
      'client::notification': { click: { url: 'https://cd.example.org/stacks/web' } },
    },
  })
  t.equal(
    http('gotify+https://example.org/gotify?token=x').url,
    'https://example.org/gotify/message?token=x',
  )
  t.equal(
    http('gotify+https://example.org/message?token=x').url,
    'https://example.org/message?token=x',
  )
  t.equal(
    (
      http('gotify+https://example.org/?token=x', { ...failedEvent, event: 'healed' }).json as {
        priority: number
      }
    ).priority,
    5,
  )
})

t.test('apprise: POST /notify/<key> with title, body, type, format (and tag)', async (t) => {
  const request = http('apprise+https://apprise.example.org/notify/docker-cd')
  t.equal(request.url, 'https://apprise.example.org/notify/docker-cd')
  t.same(request.json, {
    title: titleOf(failedEvent),
    body: plainTextOf(failedEvent),
    type: 'failure',
    format: 'text',
  })
  const tagged = http('apprise+http://apprise:8000/notify/abc?tag=devops', engineDownEvent)
  t.equal(tagged.url, 'http://apprise:8000/notify/abc', 'tag moved into the body')
  t.same(tagged.json, {
    title: titleOf(engineDownEvent),
    body: plainTextOf(engineDownEvent),
    type: 'failure',
    format: 'text',
    tag: 'devops',
  })
})

t.test('smtp: subject, text body, from/to, server settings', async (t) => {
  const mail = channel(
    'smtp://alerts%40example.org:p%40ss@mail.example.org/?from=docker-cd@example.org&to=ops@example.org,oncall@example.org',
  ).request(failedEvent) as MailMessage
  t.same(mail, {
    transport: 'smtp',
    server: {
      host: 'mail.example.org',
      port: 587,
      secure: false,
      user: 'alerts@example.org',
      pass: 'p@ss',
    },
    from: 'docker-cd@example.org',
    to: ['ops@example.org', 'oncall@example.org'],
    subject: `[docker-cd prod-1] ${titleOf(failedEvent)}`,
    text: plainTextOf(failedEvent),
  })
  const implicit = channel(
    'smtps://mail.example.org/?from=a@example.org&to=b@example.org&to=c@example.org',
  ).request(failedEvent) as MailMessage
  t.same(implicit.server, { host: 'mail.example.org', port: 465, secure: true })
  t.same(implicit.to, ['b@example.org', 'c@example.org'])
  const ported = channel('smtp://127.0.0.1:2525/?from=a@x.org&to=b@x.org').request(
    failedEvent,
  ) as MailMessage
  t.equal(ported.server.port, 2525)
})
