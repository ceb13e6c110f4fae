import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { errorSchema } from '../../schemas/api.js'
import { ConfigError, loadConfig } from '../../services/base/config.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { delivery, pushPayload } from '../helpers/github.js'
import { tempDir } from '../helpers/temp-dir.js'

// Who may call what: API_TOKEN on /api/* (not the webhook), and per-client
// rate limits on refresh triggers and on rejected requests.

const API_TOKEN = 'api-tok-3c1f9a7e55d2b804'
const SECRET = 'whsec-access-0d'
const server = await startGitServer({ token: 'tok-access-61a' })
t.teardown(() => server.close())

async function setup(t: Test, env: Record<string, string> = {}) {
  const repo = createFixtureRepo(server, { stacks: 2 })
  const app = await build(t, configFor(server, repo.url, env))
  await startApp(app)
  return { app, repo }
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

t.test(
  'API_TOKEN: /api/* needs the Bearer token; probes, docs and the webhook do not',
  async (t) => {
    const { app } = await setup(t, { API_TOKEN, LOG_LEVEL: 'trace' })
    const missing = await app.inject('/api/stacks')
    t.equal(missing.statusCode, 401)
    t.equal(missing.headers['www-authenticate'], 'Bearer realm="docker-cd"')
    t.match(errorSchema.parse(missing.json()), { statusCode: 401, message: /Bearer <API_TOKEN>/ })
    const wrong = await app.inject({ url: '/api/stacks', headers: bearer('nope-nope-nope-nope') })
    t.equal(wrong.statusCode, 401)
    t.match(wrong.json(), { message: 'the API token does not match' })
    for (const url of [
      '/api/stacks',
      '/api/stacks/stack-00000',
      '/api/stacks/stack-00000/compose',
      '/api/refresh-status',
    ]) {
      t.equal((await app.inject({ url, headers: bearer(API_TOKEN) })).statusCode, 200, url)
      t.equal((await app.inject(url)).statusCode, 401, `${url} without the token`)
    }
    t.equal(
      (await app.inject({ method: 'POST', url: '/api/refresh', headers: bearer(API_TOKEN) }))
        .statusCode,
      200,
    )
    t.equal((await app.inject({ method: 'POST', url: '/api/refresh' })).statusCode, 401)
    t.equal(
      (await app.inject({ url: '/api/events', headers: { accept: 'text/event-stream' } }))
        .statusCode,
      401,
      'the event feed too',
    )
    for (const url of ['/', '/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) {
      t.equal((await app.inject(url)).statusCode, 200, `${url} stays open`)
    }
    const webhook = await app.inject({
      method: 'POST',
      url: '/api/webhook',
      headers: { 'content-type': 'application/json', 'x-github-event': 'ping' },
      payload: '{}',
    })
    t.equal(webhook.statusCode, 200, 'the webhook has its own signature, not the token')

    const doc = (await app.inject('/openapi.json')).json()
    t.same(doc.paths['/api/stacks'].get.security, [{ bearerAuth: [] }])
    t.ok(doc.paths['/api/stacks'].get.responses['401'], '401 documented')
    t.notOk(doc.paths['/api/webhook'].post.security, 'the webhook is not marked')
    t.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer')
    t.notMatch(JSON.stringify(app.logs), API_TOKEN, 'the token is in no log line')
  },
)

t.test('repeated wrong tokens: 429 with Retry-After, also for the right token', async (t) => {
  const { app } = await setup(t, { API_TOKEN })
  for (let i = 0; i < 10; i++) {
    const res = await app.inject({ url: '/api/stacks', headers: bearer(`wrong-guess-${i}-xxxxxx`) })
    t.equal(res.statusCode, 401, `guess ${i + 1}`)
  }
  const limited = await app.inject({ url: '/api/stacks', headers: bearer(API_TOKEN) })
  t.equal(limited.statusCode, 429)
  t.match(Number(limited.headers['retry-after']), Number)
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After in seconds')
  t.match(errorSchema.parse(limited.json()), { statusCode: 429, message: /too many rejected/ })
  t.equal((await app.inject('/healthz')).statusCode, 200, 'open routes are not limited')
})

t.test('API_TOKEN from a file; too short a token is refused', async (t) => {
  const file = join(tempDir('docker-cd-api-token-'), 'token')
  writeFileSync(file, `${API_TOKEN}\n`)
  const base = { GIT_REPO_URL: 'https://git.example.com/r.git', GIT_REVISION: 'main' }
  t.equal(loadConfig({ ...base, API_TOKEN_FILE: file }).apiToken, API_TOKEN)
  t.throws(() => loadConfig({ ...base, API_TOKEN: 'short' }), ConfigError)
  try {
    loadConfig({ ...base, API_TOKEN: 'short' })
  } catch (error) {
    t.match((error as ConfigError).problems, [/^API_TOKEN: must be at least 16 characters/])
    t.notMatch((error as ConfigError).problems.join(), 'short', 'the value is not echoed')
  }
})

t.test(
  'an API_TOKEN no request could send is refused at startup, naming the variable',
  async (t) => {
    const base = { GIT_REPO_URL: 'https://git.example.com/r.git', GIT_REVISION: 'main' }
    const dir = tempDir('docker-cd-api-token-')
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig({ ...base, ...env })
        return []
      } catch (error) {
        return (error as ConfigError).problems
      }
    }
    for (const [what, token] of [
      ['a leading space', ` ${API_TOKEN}`],
      ['a trailing space', `${API_TOKEN} `],
      ['an inner space', 'api-tok-3c1f 9a7e55d2b804'],
      ['a tab', `${API_TOKEN}\t`],
      ['a newline inside', 'api-tok-3c1f\n9a7e55d2b804'],
      ['a control character', `${API_TOKEN}\u0007`],
      ['a non-ASCII letter', `${API_TOKEN}é`],
    ] as const) {
      const problems = problemsOf({ API_TOKEN: token })
      t.equal(problems.length, 1, `${what}: one problem`)
      t.match(problems[0] ?? '', /^API_TOKEN: must be printable ASCII without spaces/, what)
      const file = join(dir, 'token')
      writeFileSync(file, `${token}\n`)
      t.match(
        problemsOf({ API_TOKEN_FILE: file }),
        [/^API_TOKEN: must be printable ASCII/],
        `${what} in API_TOKEN_FILE`,
      )
    }
    const file = join(dir, 'two-newlines')
    writeFileSync(file, `${API_TOKEN}\n\n`)
    t.match(
      problemsOf({ API_TOKEN_FILE: file }),
      [/^API_TOKEN: must be printable ASCII/],
      'only one trailing newline is stripped',
    )
    t.notMatch(
      problemsOf({ API_TOKEN: ` ${API_TOKEN}` }).join(),
      API_TOKEN,
      'the value is not echoed',
    )
    t.same(problemsOf({ API_TOKEN: 'A-Za-z0-9._~+/=!#$%&*' }), [], 'visible ASCII is fine')
  },
)

t.test('refresh requests are paced, never refused', async (t) => {
  t.test('100 sequential ?wait=true calls from one client all complete', async (t) => {
    const { app } = await setup(t, { REFRESH_RATE_LIMIT: '20/2s' })
    const answers: string[] = []
    for (let i = 0; i < 100; i++) {
      const res = await app.inject({ method: 'POST', url: '/api/refresh?wait=true' })
      answers.push(`${res.statusCode} ${res.json().status}`)
    }
    t.same(new Set(answers), new Set(['200 completed']), 'every call: 200 completed')
  })

  t.test('200 concurrent calls all answer 200, refreshing or queued', async (t) => {
    const { app } = await setup(t)
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => app.inject({ method: 'POST', url: '/api/refresh' })),
    )
    t.same(new Set(answers.map((res) => res.statusCode)), new Set([200]))
    t.ok(answers.every((res) => ['refreshing', 'queued'].includes(res.json().status)))
    const last = await app.inject({ method: 'POST', url: '/api/refresh?wait=true' })
    t.match(last.json(), { status: 'completed' })
  })

  t.test('with a low limit, Git sees at most that rate of ls-remote calls', async (t) => {
    const { app } = await setup(t, { REFRESH_RATE_LIMIT: '3/2s' })
    const before = server.requests.length
    const started = Date.now()
    const statuses = new Set<number>()
    while (Date.now() - started < 3_000) {
      statuses.add((await app.inject({ method: 'POST', url: '/api/refresh' })).statusCode)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const elapsed = Date.now() - started
    const final = await app.inject({ method: 'POST', url: '/api/refresh?wait=true' })
    t.match(final.json(), { status: 'completed' }, 'the last request is still answered')
    t.same(statuses, new Set([200]), 'no call refused')
    const refreshes = server.requests
      .slice(before)
      .filter((request) => request.path.endsWith('/info/refs')).length
    // A burst of 3, then 3 per 2 s; and the final request's own refresh.
    const allowed = 3 + Math.ceil((3 * elapsed) / 2_000) + 1
    t.ok(refreshes <= allowed, `${refreshes} ls-remote calls in ${elapsed} ms (at most ${allowed})`)
    t.ok(refreshes >= 3, 'the burst went through')
  })

  t.test('REFRESH_RATE_LIMIT and TRUST_PROXY are checked at startup', async (t) => {
    const base = { GIT_REPO_URL: 'https://git.example.com/r.git', GIT_REVISION: 'main' }
    t.same(loadConfig(base).refreshRateLimit, { burst: 30, periodMs: 60_000 }, 'default 30/1m')
    t.equal(loadConfig({ ...base, REFRESH_RATE_LIMIT: '0' }).refreshRateLimit, null)
    t.same(loadConfig({ ...base, REFRESH_RATE_LIMIT: '5/10s' }).refreshRateLimit, {
      burst: 5,
      periodMs: 10_000,
    })
    for (const bad of ['30', '0/1m', 'x/1m', '3/never', '3/0'])
      t.throws(
        () => loadConfig({ ...base, REFRESH_RATE_LIMIT: bad }),
        /REFRESH_RATE_LIMIT: must be/,
      )
    t.equal(loadConfig(base).trustProxy, false, 'TRUST_PROXY off by default')
    t.equal(loadConfig({ ...base, TRUST_PROXY: 'true' }).trustProxy, true)
    t.equal(loadConfig({ ...base, TRUST_PROXY: '2' }).trustProxy, 2)
    t.same(loadConfig({ ...base, TRUST_PROXY: '10.0.0.1, 10.1.0.0/16' }).trustProxy, [
      '10.0.0.1',
      '10.1.0.0/16',
    ])
    t.throws(() => loadConfig({ ...base, TRUST_PROXY: 'yes please' }), /TRUST_PROXY: must be/)
  })
})

t.test('TRUST_PROXY: clients behind the proxy are told apart by X-Forwarded-For', async (t) => {
  const rejectedFrom = async (env: Record<string, string>) => {
    const { app } = await setup(t, { API_TOKEN, ...env })
    for (let i = 0; i < 10; i++)
      await app.inject({ url: '/api/stacks', headers: { 'x-forwarded-for': '203.0.113.7' } })
    const other = await app.inject({
      url: '/api/stacks',
      headers: { ...bearer(API_TOKEN), 'x-forwarded-for': '203.0.113.8' },
    })
    return other.statusCode
  }
  t.equal(await rejectedFrom({}), 429, 'off: every client behind the proxy shares one bucket')
  t.equal(await rejectedFrom({ TRUST_PROXY: '1' }), 200, 'on: another client is not slowed down')
})

t.test(
  'rejected webhook deliveries are limited per client; valid ones are not counted',
  async (t) => {
    const { app } = await setup(t, { WEBHOOK_SECRET: SECRET })
    const push = pushPayload('refs/heads/main', app.desiredState.current().revision ?? '')
    for (let i = 0; i < 15; i++) {
      const ok = await app.inject({
        method: 'POST',
        url: '/api/webhook',
        ...delivery('ping', push, { secret: SECRET }),
      })
      t.equal(ok.statusCode, 200, `valid delivery ${i + 1}`)
    }
    for (let i = 0; i < 10; i++) {
      const bad = await app.inject({
        method: 'POST',
        url: '/api/webhook',
        ...delivery('push', push, { secret: 'wrong-secret' }),
      })
      t.equal(bad.statusCode, 401, `wrong signature ${i + 1}`)
    }
    const limited = await app.inject({
      method: 'POST',
      url: '/api/webhook',
      ...delivery('push', push, { secret: SECRET }),
    })
    t.equal(limited.statusCode, 429, 'the client is slowed down, whatever it sends next')
    t.ok(Number(limited.headers['retry-after']) > 0)
  },
)
