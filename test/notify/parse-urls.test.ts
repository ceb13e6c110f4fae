import { createHmac } from 'node:crypto'
import { inspect } from 'node:util'
import t, { type Test } from 'tap'
import { parseNotifyUrls, splitNotifyUrls } from '../../services/notify/index.js'

// NOTIFY_URLS: separators, every kind, and problems that name the entry and
// kind but never echo anything that could be a secret.

const SECRETS = ['T0SECRET', 'B0SECRET', 'XoXoSeCrEt', 'tk_hidden', 'hunter2', 'apptoken9']

function noSecrets(t: Test, text: string) {
  for (const secret of SECRETS) t.notMatch(text, secret, `no ${secret}`)
}

t.test('commas and newlines separate entries; commas inside a URL stay', async (t) => {
  t.same(
    splitNotifyUrls(
      'slack+https://hooks.slack.com/services/A/B/C, ntfy+https://ntfy.sh/x\n' +
        '  smtp://mail.example.org/?from=a@x.org&to=b@x.org,c@x.org ,gotify+http://g/?token=t\r\n' +
        '# a comment line\n\n',
    ),
    [
      'slack+https://hooks.slack.com/services/A/B/C',
      'ntfy+https://ntfy.sh/x',
      'smtp://mail.example.org/?from=a@x.org&to=b@x.org,c@x.org',
      'gotify+http://g/?token=t',
    ],
  )
  t.same(splitNotifyUrls(''), [])
})

t.test('a trailing comma separates nothing: it is not kept in the URL', async (t) => {
  // A list written with a comma after every entry (a YAML or .env habit) used
  // to leave the comma in the last URL of each line: a Slack path ending in
  // `,` (refused 404, never retried) or a generic secret of `s3cret,`.
  t.same(
    splitNotifyUrls(
      'slack+https://hooks.slack.com/services/A/B/C,\n# comment\n' +
        'generic+https://h.example/x?secret=s3cret , \n' +
        'ntfy+https://ntfy.sh/x,,',
    ),
    [
      'slack+https://hooks.slack.com/services/A/B/C',
      'generic+https://h.example/x?secret=s3cret',
      'ntfy+https://ntfy.sh/x',
    ],
  )
  const { channels } = parseNotifyUrls('generic+https://h.example/x?secret=s3cret,')
  const request = channels[0]?.request({
    version: 1,
    event: 'test',
    instance: 'i',
    reason: 'r',
    at: '2026-01-01T00:00:00.000Z',
  })
  t.match(request, { url: 'https://h.example/x' })
  const body = request?.transport === 'http' ? request.body : ''
  t.equal(
    request?.transport === 'http' ? request.headers['x-docker-cd-signature-256'] : undefined,
    `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`,
    'signed with the secret as written, without the comma',
  )
})

t.test('every kind parses; display is kind and host only', async (t) => {
  const { channels, problems } = parseNotifyUrls(
    [
      'generic+https://hooks.example.org/x?secret=hunter2',
      'slack+https://hooks.slack.com/services/T0SECRET/B0SECRET/XoXoSeCrEt',
      'discord+https://discord.com/api/webhooks/1234/XoXoSeCrEt',
      'teams+https://prod.powerautomate.com/workflows/XoXoSeCrEt/triggers/manual?sig=XoXoSeCrEt',
      'ntfy+https://:tk_hidden@ntfy.sh/alerts',
      'gotify+http://gotify.lan:8080/?token=apptoken9',
      'apprise+http://apprise.lan:8000/notify/ops',
      'smtp://bot:hunter2@mail.example.org:2525/?from=a@x.org&to=b@x.org',
      'smtps://mail.example.org/?from=a@x.org&to=b@x.org',
    ].join('\n'),
  )
  t.same(problems, [])
  t.same(
    channels.map((c) => [c.kind, c.display]),
    [
      ['generic', 'generic hooks.example.org'],
      ['slack', 'slack hooks.slack.com'],
      ['discord', 'discord discord.com'],
      ['teams', 'teams prod.powerautomate.com'],
      ['ntfy', 'ntfy ntfy.sh'],
      ['gotify', 'gotify gotify.lan:8080 (http)'],
      ['apprise', 'apprise apprise.lan:8000 (http)'],
      ['smtp', 'smtp mail.example.org:2525'],
      ['smtp', 'smtps mail.example.org'],
    ],
  )
  // A channel logged or serialised by mistake shows nothing secret.
  noSecrets(t, JSON.stringify(channels))
  noSecrets(t, inspect(channels, { depth: 10 }))
})

t.test('problems name entry and kind, never the URL', async (t) => {
  const { channels, problems } = parseNotifyUrls(
    [
      'telegram+https://api.telegram.org/botXoXoSeCrEt/sendMessage',
      'https://hooks.slack.com/services/T0SECRET/B0SECRET/XoXoSeCrEt',
      'slack+https://',
      'ntfy+https://:tk_hidden@ntfy.sh/',
      'gotify+https://gotify.example.org/',
      'apprise+https://apprise.example.org/add/XoXoSeCrEt',
      'discord+https://discord.com/XoXoSeCrEt',
      'smtp://bot:hunter2@mail.example.org/?to=b@x.org',
      'smtp://bot:hunter2@mail.example.org/?from=a@x.org',
      'mailto:XoXoSeCrEt@example.org',
      'generic+https://h.example.org/?secret=',
      'slack+https://hooks.slack.com/services/T0SECRET/B0SECRET/XoXoSeCrEt',
    ].join('\n'),
    'NOTIFY_URLS_FILE',
  )
  t.equal(channels.length, 1, 'the good entry still counts')
  t.equal(problems.length, 11)
  t.match(
    problems[0],
    /^NOTIFY_URLS_FILE entry 1: unknown channel kind "telegram" \(known: generic, slack, discord, teams, ntfy, gotify, apprise, smtp, smtps\)$/,
  )
  t.match(problems[1], /^NOTIFY_URLS_FILE entry 2: no channel kind/)
  t.match(problems[2], /^NOTIFY_URLS_FILE entry 3: slack: not a valid URL$/)
  t.match(problems[3], /^NOTIFY_URLS_FILE entry 4: ntfy: the URL names no topic/)
  t.match(problems[4], /^NOTIFY_URLS_FILE entry 5: gotify: no token= parameter/)
  t.match(problems[5], /^NOTIFY_URLS_FILE entry 6: apprise: the path must be \/notify\/<key>/)
  t.match(problems[6], /^NOTIFY_URLS_FILE entry 7: discord: the path is not a Discord webhook/)
  t.match(problems[7], /^NOTIFY_URLS_FILE entry 8: smtp: no from= address$/)
  t.match(problems[8], /^NOTIFY_URLS_FILE entry 9: smtp: no to= address$/)
  t.match(problems[9], /^NOTIFY_URLS_FILE entry 10: not a notification URL/)
  t.match(problems[10], /^NOTIFY_URLS_FILE entry 11: generic: the secret= parameter is empty$/)
  noSecrets(t, problems.join('\n'))
})

t.test('a kind that is long or odd is not echoed', async (t) => {
  const { problems } = parseNotifyUrls(`${'x'.repeat(30)}+https://example.org/`)
  t.match(problems[0], /^NOTIFY_URLS entry 1: unknown channel kind \(known:/)
})
