import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadConfig } from '../../services/base/config.js'
import { commitSubject } from '../../services/git/index.js'
import {
  type ChannelRequest,
  createNotifier,
  type DeliveryResult,
  type NotifierOptions,
  notifierProblems,
  type SendOutcome,
} from '../../services/notify/index.js'
import type { RefreshOutcome, Snapshot } from '../../services/refresh/index.js'
import type { SyncRunFinished } from '../../services/sync/index.js'
import { until } from '../helpers/notify-receiver.js'
import { tempDir } from '../helpers/temp-dir.js'

// The notifier as main.ts and the notify plugin build it: commit subjects,
// startup problems (one line each, never a secret), and the wiring from the
// sync and refresh observers to delivery, with an injected `send` (no
// network: what leaves is recorded as the request each channel built).

const REV_A = '3f2a1c0d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49'
const REV_B = '4e3b2d1c0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c'
const TREE_A = 'a'.repeat(40)
const TREE_B = 'b'.repeat(40)

// Secrets as an operator pastes them: a Slack-style webhook path, a generic
// receiver's signing secret, a commit-status token.
const SLACK_SECRET = 'xQ9sEcReTpAtHtOkEn7731'
const GENERIC_SECRET = 'sig-secret-5e1d0b7aa93c'
const STATUS_TOKEN = 'ghp_statusTokenNeverShown0042'
const SLACK_URL = `slack+http://127.0.0.1:9/services/T0ABCDEF/B0GHIJK/${SLACK_SECRET}`
const GENERIC_URL = `generic+http://127.0.0.1:9/hook?secret=${GENERIC_SECRET}`

function configOf(env: Record<string, string>) {
  return loadConfig({
    GIT_REPO_URL: 'https://github.com/acme/deploy.git',
    GIT_REVISION: 'main',
    GIT_CACHE_DIR: tempDir('docker-cd-notifier-'),
    INSTANCE_NAME: 'prod-1',
    ...env,
  })
}

function sshFiles() {
  const dir = tempDir('docker-cd-notifier-ssh-')
  const key = join(dir, 'deploy_key')
  const knownHosts = join(dir, 'known_hosts')
  writeFileSync(key, 'not a real key\n')
  writeFileSync(
    knownHosts,
    'github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n',
  )
  return { GIT_SSH_KEY_FILE: key, GIT_SSH_KNOWN_HOSTS_FILE: knownHosts }
}

// --- commitSubject --------------------------------------------------------

const HEADERS = [
  `tree ${TREE_A}`,
  `parent ${TREE_B}`,
  'author Ada <ada@example.org> 1764730000 +0000',
  'committer Ada <ada@example.org> 1764730000 +0000',
].join('\n')

t.test('commitSubject: the first line of the message, from a raw commit object', async (t) => {
  t.equal(
    commitSubject(`${HEADERS}\n\nRaise the worker count\n\nThe queue backs up at noon.\n`),
    'Raise the worker count',
    'subject, blank line, body',
  )
  t.equal(
    commitSubject(Buffer.from(`${HEADERS}\n\nRaise the worker count\n`)),
    'Raise the worker count',
    'no body (a Buffer, as the mirror hands it)',
  )
  t.equal(
    commitSubject(`${HEADERS}\n\nRaise the worker count`),
    'Raise the worker count',
    'no trailing newline',
  )
  t.equal(
    commitSubject(`${HEADERS}\n\nFirst line\nsecond line of the same paragraph\nthird\n`),
    'First line',
    'a multi-line message: only its first line',
  )
  t.equal(commitSubject(`${HEADERS}\n\n  Padded subject  \n`), 'Padded subject', 'trimmed')
  t.equal(commitSubject(`${HEADERS}\n\n`), undefined, 'an empty message: no subject')
  t.equal(commitSubject(`${HEADERS}\n`), undefined, 'no message at all: no subject')
  t.equal(commitSubject(''), undefined, 'nothing')

  const signed = [
    `tree ${TREE_A}`,
    `parent ${TREE_B}`,
    'author Ada <ada@example.org> 1764730000 +0000',
    'committer Ada <ada@example.org> 1764730000 +0000',
    'gpgsig -----BEGIN PGP SIGNATURE-----',
    ' ',
    ' iQEzBAABCAAdFiEEexampleexampleexampleexampleAAoJEExample',
    ' =abcd',
    ' -----END PGP SIGNATURE-----',
    '',
    'Signed: raise the worker count',
    '',
    'Body.',
    '',
  ].join('\n')
  t.equal(
    commitSubject(signed),
    'Signed: raise the worker count',
    'a gpgsig header with continuation lines (one of them a lone space) before the blank line',
  )
  const mergetag = signed.replace('gpgsig', 'mergetag object 0123\n type commit\n tag v1\n gpgsig')
  t.equal(commitSubject(mergetag), 'Signed: raise the worker count', 'more multi-line headers')
})

t.test('commitSubject: a commit object as git itself writes it', async (t) => {
  const dir = tempDir('docker-cd-subject-')
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'Ada',
    GIT_AUTHOR_EMAIL: 'ada@example.org',
    GIT_COMMITTER_NAME: 'Ada',
    GIT_COMMITTER_EMAIL: 'ada@example.org',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  }
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env })
  git('init', '-q')
  git('commit', '-q', '--allow-empty', '-m', 'Bump web to 1.4.2', '-m', 'Second paragraph.\nMore.')
  t.equal(commitSubject(git('cat-file', 'commit', 'HEAD')), 'Bump web to 1.4.2')
  git('commit', '-q', '--allow-empty', '-m', 'Only a subject')
  t.equal(commitSubject(git('cat-file', 'commit', 'HEAD')), 'Only a subject')
})

// --- notifierProblems -----------------------------------------------------

t.test('notifierProblems: one line per problem, naming the variable, no secret', async (t) => {
  t.same(notifierProblems(configOf({})), [], 'nothing configured: nothing wrong')
  t.same(
    notifierProblems(configOf({ NOTIFY_URLS: `${SLACK_URL}\n${GENERIC_URL}`, NOTIFY_ON: 'all' })),
    [],
    'two good channels',
  )

  const unknownKind = notifierProblems(
    configOf({
      NOTIFY_URLS: `${SLACK_URL}\nfoo+https://hooks.example.org/T000/${SLACK_SECRET}`,
    }),
  )
  t.equal(unknownKind.length, 1, 'one line for the one bad entry')
  t.match(unknownKind[0], /^NOTIFY_URLS entry 2: unknown channel kind "foo" \(known: .*slack.*\)$/)

  const unknownWord = notifierProblems(configOf({ NOTIFY_ON: 'failed, recoverd' }))
  t.equal(unknownWord.length, 1)
  t.match(unknownWord[0], /^NOTIFY_ON: unknown event kind "recoverd"/)

  const unknownHost = notifierProblems(
    configOf({
      GIT_REPO_URL: 'https://git.example.org/acme/deploy.git',
      GIT_ACCESS_TOKEN: 'git-token-abcdef012345',
      COMMIT_STATUS: 'true',
      COMMIT_STATUS_TOKEN: STATUS_TOKEN,
    }),
  )
  t.equal(unknownHost.length, 1)
  t.match(
    unknownHost[0],
    /^COMMIT_STATUS_PROVIDER: required for git\.example\.org, which is not github\.com, gitlab\.com or bitbucket\.org/,
  )
  t.same(
    notifierProblems(
      configOf({
        GIT_REPO_URL: 'https://git.example.org/acme/deploy.git',
        COMMIT_STATUS: 'true',
        COMMIT_STATUS_PROVIDER: 'gitea',
        COMMIT_STATUS_TOKEN: STATUS_TOKEN,
      }),
    ),
    [],
    'named with COMMIT_STATUS_PROVIDER: fine',
  )

  const noToken = notifierProblems(
    configOf({
      GIT_REPO_URL: 'ssh://git@github.com/acme/deploy.git',
      ...sshFiles(),
      COMMIT_STATUS: 'true',
    }),
  )
  t.same(noToken, [
    'COMMIT_STATUS_TOKEN: required with COMMIT_STATUS=true when GIT_ACCESS_TOKEN is not set (a token that may write commit statuses)',
  ])
  t.same(
    notifierProblems(
      configOf({
        GIT_REPO_URL: 'git@github.com:acme/deploy.git',
        ...sshFiles(),
        COMMIT_STATUS: 'true',
        COMMIT_STATUS_TOKEN: STATUS_TOKEN,
      }),
    ),
    [],
    'an scp-like ssh URL with a token: fine',
  )
  t.same(
    notifierProblems(configOf({ COMMIT_STATUS: 'false' })),
    [],
    'COMMIT_STATUS off: no token needed',
  )

  // Everything wrong at once: each problem its own line, none with a secret.
  const all = notifierProblems(
    configOf({
      GIT_REPO_URL: 'https://git.example.org/acme/deploy.git',
      NOTIFY_URLS: [
        `foo+https://hooks.example.org/T000/${SLACK_SECRET}`,
        `slack+https://hooks.slack.com/`,
        `generic+https://[broken/${GENERIC_SECRET}`,
        `https://hooks.slack.com/services/T0/B0/${SLACK_SECRET}`,
        `generic+https://receiver.example/hook?secret=${GENERIC_SECRET}&secret=${GENERIC_SECRET}`,
      ].join(', '),
      NOTIFY_ON: 'failed,explode',
      COMMIT_STATUS: 'true',
      COMMIT_STATUS_TOKEN: STATUS_TOKEN,
    }),
  )
  t.equal(all.length, 7, 'five entries, one word, one host')
  t.match(all, [
    /^NOTIFY_URLS entry 1: unknown channel kind "foo"/,
    /^NOTIFY_URLS entry 2: slack: the URL has no webhook path/,
    /^NOTIFY_URLS entry 3: generic: not a valid URL$/,
    /^NOTIFY_URLS entry 4: no channel kind/,
    /^NOTIFY_URLS entry 5: generic: more than one secret= parameter$/,
    /^NOTIFY_ON: unknown event kind "explode"/,
    /^COMMIT_STATUS_PROVIDER: required for git\.example\.org/,
  ])
  for (const line of [...all, ...unknownKind, ...unknownHost, ...noToken]) {
    t.notOk(line.includes('\n'), `one line: ${line.slice(0, 40)}`)
    for (const secret of [SLACK_SECRET, GENERIC_SECRET, STATUS_TOKEN, 'git-token-abcdef012345'])
      t.notOk(line.includes(secret), `no secret in: ${line.slice(0, 40)}`)
  }
})

t.test('createNotifier refuses a configuration with problems, as main.ts does', async (t) => {
  t.throws(
    () =>
      createNotifier({
        settings: configOf({ NOTIFY_URLS: 'foo+https://x.example/y', NOTIFY_ON: 'nope' }),
        readCommit: async () => undefined,
        log: silentLog(),
      }),
    /NOTIFY_URLS entry 1: unknown channel kind "foo".*\nNOTIFY_ON: unknown event kind "nope"/s,
  )
})

// --- createNotifier, driven through its observers -------------------------

type LogLine = { level: string; details: object; message: string }

function silentLog(lines: LogLine[] = []) {
  return {
    info: (details: object, message: string) => lines.push({ level: 'info', details, message }),
    warn: (details: object, message: string) => lines.push({ level: 'warn', details, message }),
    debug: (details: object, message: string) => lines.push({ level: 'debug', details, message }),
  }
}

function run(
  stack: string,
  result: SyncRunFinished['result'],
  extra: Partial<SyncRunFinished> = {},
): SyncRunFinished {
  const trigger = extra.trigger ?? 'git'
  const revision = extra.revision ?? REV_A
  const treeHash = extra.treeHash ?? TREE_A
  return {
    stack,
    trigger,
    revision,
    treeHash,
    fromTree: TREE_B,
    result,
    servicesChanged: ['app'],
    message: result === 'completed' ? 'deployed' : 'service app never got healthy',
    ...(result === 'failed'
      ? { failure: { kind: 'health' as const, message: 'service app never got healthy' } }
      : {}),
    run: {
      trigger,
      startedAt: '2026-12-03T03:00:00.000Z',
      finishedAt: '2026-12-03T03:00:00.000Z',
      durationMs: 0,
      toTree: treeHash,
      revision,
      result,
      servicesChanged: [],
      reason: 'x',
    },
    ...extra,
  }
}

function refresh(
  status: RefreshOutcome['status'],
  error?: RefreshOutcome['error'],
): RefreshOutcome {
  return {
    status,
    trigger: 'periodic',
    revision: REV_A,
    previousRevision: REV_A,
    message: status === 'completed' ? 'refreshed' : 'refresh failed',
    ...(error ? { error } : {}),
    startedAt: '2026-12-03T03:00:00.000Z',
    finishedAt: '2026-12-03T03:00:00.000Z',
    durationMs: 0,
    changes: { added: [], changed: [], removed: [] },
    stackCount: 1,
    hashed: 0,
    steps: [],
    skipped: [],
    warnings: [],
  }
}

const NO_SNAPSHOT = {} as Snapshot

/** A commit object with `subject`, as the mirror would hand it over. */
const commitObject = (subject: string) => Buffer.from(`${HEADERS}\n\n${subject}\n\nBody.\n`)

type Sent = { channel: string; body: Record<string, unknown> }

function setup(
  t: Test,
  options: {
    env?: Record<string, string>
    answer?: (request: ChannelRequest) => SendOutcome | Promise<SendOutcome>
    readCommit?: NotifierOptions['readCommit']
  } = {},
) {
  const sent: Sent[] = []
  const results: DeliveryResult[] = []
  const lines: LogLine[] = []
  const reads: string[] = []
  const notifier = createNotifier({
    settings: configOf({
      NOTIFY_URLS: `${GENERIC_URL}\n${SLACK_URL}`,
      NOTIFY_ON: 'all',
      PUBLIC_URL: 'https://cd.example.org',
      ...options.env,
    }),
    readCommit: async (sha) => {
      reads.push(sha)
      return options.readCommit
        ? options.readCommit(sha)
        : commitObject(sha === REV_A ? 'Raise the worker count' : 'Revert the worker count')
    },
    log: silentLog(lines),
    retries: 2,
    backoff: () => 0,
    onResult: (result) => results.push(result),
    send: async (request) => {
      if (request.transport !== 'http') throw new Error('http only here')
      const channel = request.url.includes('/services/') ? 'slack' : 'generic'
      sent.push({ channel, body: JSON.parse(request.body) as Record<string, unknown> })
      return options.answer ? options.answer(request) : { ok: true }
    },
  })
  t.teardown(() => notifier.close(0))
  const generic = () => sent.filter((s) => s.channel === 'generic').map((s) => s.body)
  const slack = () => sent.filter((s) => s.channel === 'slack').map((s) => s.body)
  return { notifier, sent, results, lines, reads, generic, slack }
}

t.test('messages leave in the order they were decided, each with its subject', async (t) => {
  // The subject of REV_A is read slowly: what was decided after waits for it.
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const { notifier, reads, generic, slack, results } = setup(t, {
    readCommit: async (sha) => {
      if (sha === REV_A) await gate
      return commitObject(sha === REV_A ? 'Raise the worker count' : 'Revert the worker count')
    },
  })
  const observer = notifier.syncObserver
  observer.runFinished?.(run('web', 'failed'))
  observer.driftChecked?.({
    stack: 'api',
    revision: REV_B,
    treeHash: TREE_B,
    drifted: true,
    reason: 'service db would be started: container api-db-1 is exited (0)',
  })
  observer.runFinished?.(run('web', 'completed', { trigger: 'manual' }))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(reads, [REV_A], 'only the first subject is being read')
  t.same(generic(), [], 'nothing has left while the first subject is not known')

  release()
  await notifier.settled()
  for (const [name, bodies] of [
    ['generic', generic()],
    ['slack', slack()],
  ] as const)
    t.equal(bodies.length, 3, `three messages to ${name}`)
  t.match(generic(), [
    {
      event: 'failed',
      instance: 'prod-1',
      stack: 'web',
      revision: REV_A,
      subject: 'Raise the worker count',
      reason: 'service app never got healthy',
      url: 'https://cd.example.org/ui/stacks/web',
    },
    {
      event: 'drift',
      stack: 'api',
      revision: REV_B,
      subject: 'Revert the worker count',
      reason: 'service db would be started: container api-db-1 is exited (0)',
    },
    { event: 'recovered', stack: 'web', revision: REV_A, subject: 'Raise the worker count' },
  ])
  t.same(
    Object.keys(generic()[0] ?? {}),
    ['version', 'event', 'instance', 'stack', 'revision', 'subject', 'reason', 'at', 'url'],
    'the generic body keeps the documented field order',
  )
  t.match(
    slack().map((body) => body.text),
    [/^web failed to deploy 3f2a1c0/, /^api drifted/, /^web recovered/],
    'slack got the same messages, in the same order',
  )
  t.same(reads, [REV_A, REV_B], 'each commit read once, though REV_A is in two messages')
  t.equal(results.length, 6)
  t.ok(
    results.every((result) => result.outcome === 'delivered' && result.attempts === 1),
    'every message delivered at its first attempt',
  )
})

t.test(
  'a commit is read once, across many messages; an unreadable one has no subject',
  async (t) => {
    const { notifier, reads, generic } = setup(t, {
      readCommit: async (sha) => {
        if (sha === REV_B) throw new Error('object not in the mirror')
        return commitObject('Raise the worker count')
      },
    })
    const observer = notifier.syncObserver
    for (const stack of ['web', 'api', 'db']) {
      observer.runFinished?.(run(stack, 'failed'))
      observer.runFinished?.(run(stack, 'completed'))
    }
    observer.runFinished?.(run('web', 'failed', { revision: REV_B, treeHash: TREE_B }))
    observer.runFinished?.(run('api', 'failed', { revision: REV_B, treeHash: TREE_B }))
    await notifier.settled()
    t.same(reads, [REV_A, REV_B], 'one read per commit (a failed read is not retried either)')
    t.equal(generic().length, 8)
    t.ok(
      generic()
        .slice(0, 6)
        .every((body) => body.subject === 'Raise the worker count'),
    )
    t.same(
      generic()
        .slice(6)
        .map((body) => [body.event, body.subject]),
      [
        ['failed', undefined],
        ['failed', undefined],
      ],
      'a commit that cannot be read: the message goes without a subject',
    )
  },
)

t.test(
  'drift checks: drift once per episode, in line ends it; a revert is recovered',
  async (t) => {
    const { notifier, generic } = setup(t)
    const observer = notifier.syncObserver
    const check = (stack: string, drifted: boolean, treeHash = TREE_A, revision = REV_A) =>
      observer.driftChecked?.({
        stack,
        revision,
        treeHash,
        drifted,
        reason: drifted ? 'service app would be started' : 'the host runs what Git says',
      })
    check('web', true)
    check('web', true)
    check('web', false)
    check('web', false)
    check('web', true)
    // api: tree A failed (rolled back to B); Git is back on B, in line.
    observer.runFinished?.(
      run('api', 'failed', { rolledBackTo: { revision: REV_B, treeHash: TREE_B } }),
    )
    check('api', false, TREE_A)
    check('api', false, TREE_B, REV_B)
    check('api', false, TREE_B, REV_B)
    await notifier.settled()
    t.same(
      generic().map((body) => `${body.event} ${body.stack}`),
      ['drift web', 'drift web', 'rolled_back api', 'recovered api'],
    )
    t.match(generic()[3], {
      revision: REV_B,
      subject: 'Revert the worker count',
      reason: /^the failed change is no longer in Git: the stack runs tree bbbbbbb again/,
    })
  },
)

t.test('the refresh observer: Git failing and back, aborted refreshes ignored', async (t) => {
  const { notifier, generic } = setup(t, { env: { NOTIFY_GIT_FAILING_AFTER: '0' } })
  const observer = notifier.refreshObserver
  observer.refreshFinished?.(
    refresh('failed', { reason: 'aborted', message: 'shutting down' }),
    NO_SNAPSHOT,
  )
  observer.refreshFinished?.(refresh('completed'), NO_SNAPSHOT)
  await notifier.settled()
  t.same(generic(), [], 'an aborted refresh is no failure')
  observer.refreshFinished?.(
    refresh('failed', { reason: 'auth_failed', message: 'authentication failed' }),
    NO_SNAPSHOT,
  )
  // The threshold (0) is a timer: its message is waited for, not slept on.
  await until(() => generic().length === 1, 'git_failing')
  observer.refreshFinished?.(refresh('completed'), NO_SNAPSHOT)
  await notifier.settled()
  t.match(generic(), [
    { event: 'git_failing', reason: /authentication failed$/ },
    { event: 'git_recovered' },
  ])
  t.notOk('stack' in (generic()[0] ?? {}) || 'revision' in (generic()[0] ?? {}))
})

t.test('status(): channels by kind and host only, never a secret', async (t) => {
  const { notifier } = setup(t, {
    answer: (request) =>
      request.transport === 'http' && request.url.includes('/services/')
        ? { ok: false, reason: 'HTTP 500 Internal Server Error', retry: false }
        : { ok: true },
  })
  t.same(notifier.status().channels, [
    { channel: 'generic 127.0.0.1:9 (http)', kind: 'generic', queued: 0 },
    { channel: 'slack 127.0.0.1:9 (http)', kind: 'slack', queued: 0 },
  ])
  t.equal(notifier.status().commitStatus, null, 'no COMMIT_STATUS: null')
  t.equal(notifier.status().on.length, 12, 'NOTIFY_ON=all')
  notifier.syncObserver.runFinished?.(run('web', 'failed'))
  await notifier.settled()
  const status = notifier.status()
  t.match(status.channels, [
    { channel: 'generic 127.0.0.1:9 (http)', last: { outcome: 'delivered', event: 'failed' } },
    {
      channel: 'slack 127.0.0.1:9 (http)',
      last: { outcome: 'dropped', reason: 'HTTP 500 Internal Server Error', attempts: 1 },
    },
  ])
  const text = JSON.stringify(status)
  for (const secret of [SLACK_SECRET, GENERIC_SECRET, 'T0ABCDEF', '/hook', '/services'])
    t.notOk(text.includes(secret), `status() does not show ${secret}`)

  const withStatuses = createNotifier({
    settings: configOf({ COMMIT_STATUS: 'true', COMMIT_STATUS_TOKEN: STATUS_TOKEN }),
    readCommit: async () => undefined,
    log: silentLog(),
    send: async () => ({ ok: true }),
  })
  t.teardown(() => withStatuses.close(0))
  t.same(withStatuses.status(), {
    channels: [],
    on: [...withStatuses.status().on],
    commitStatus: { provider: 'github', api: 'api.github.com' },
  })
  t.notOk(JSON.stringify(withStatuses.status()).includes(STATUS_TOKEN))
})

t.test('test(): one result per channel, one attempt each, nothing retried', async (t) => {
  const { notifier, sent, lines } = setup(t, {
    answer: (request) =>
      request.transport === 'http' && request.url.includes('/services/')
        ? { ok: false, reason: 'HTTP 500 Internal Server Error', retry: true }
        : { ok: true },
  })
  const results = await notifier.test()
  t.equal(results.length, 2, 'one result per channel')
  t.match(results, [
    { channel: 'generic 127.0.0.1:9 (http)', kind: 'generic', event: 'test', outcome: 'delivered' },
    {
      channel: 'slack 127.0.0.1:9 (http)',
      kind: 'slack',
      event: 'test',
      outcome: 'dropped',
      reason: 'HTTP 500 Internal Server Error',
      attempts: 1,
    },
  ])
  await notifier.settled()
  t.same(
    sent.map((s) => s.channel),
    ['generic', 'slack'],
    'one request per channel: a retryable failure is not retried for a test',
  )
  t.match(sent[0]?.body, { version: 1, event: 'test', instance: 'prod-1' })
  t.notOk(JSON.stringify(lines).includes(SLACK_SECRET), 'no log line shows the webhook path')

  const none = createNotifier({
    settings: configOf({}),
    readCommit: async () => undefined,
    log: silentLog(),
    send: async () => {
      throw new Error('never sent')
    },
  })
  t.teardown(() => none.close(0))
  t.same(await none.test(), [], 'no channel: no result')
  none.syncObserver.runFinished?.(run('web', 'failed'))
  await none.settled()
  t.pass('no channel: a message is only logged')
})
