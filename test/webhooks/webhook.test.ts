import t, { type Test } from 'tap'
import { signBody, verifySignature } from '../../services/webhooks/signature.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { delivery, pingPayload, pushPayload } from '../helpers/github.js'

const SECRET = 'whsec-7c1f0e9a2b'
const TOKEN = 'tok-webhook-55aa'
const server = await startGitServer({ token: TOKEN })
t.teardown(() => server.close())

async function setup(t: Test, env: Record<string, string> = { WEBHOOK_SECRET: SECRET }) {
  const repo = createFixtureRepo(server, { stacks: 2 })
  const app = await build(t, configFor(server, repo.url, env))
  await startApp(app)
  const send = (d: { payload: string; headers: Record<string, string> }) =>
    app.inject({ method: 'POST', url: '/api/webhook', payload: d.payload, headers: d.headers })
  const refreshCount = () => app.logs.filter((l) => l.msg === 'refresh started').length
  return { repo, app, send, refreshCount }
}

t.test('signature check (unit)', async (t) => {
  const body = Buffer.from('{"zen":"x"}')
  const good = signBody(SECRET, body)
  t.same(verifySignature(SECRET, body, good), { valid: true })
  t.same(verifySignature(SECRET, body, good.toUpperCase().replace('SHA256=', 'sha256=')), {
    valid: true,
  })
  t.match(verifySignature(SECRET, body, undefined), { valid: false, reason: /missing/ })
  t.match(verifySignature(SECRET, body, `sha1=${'a'.repeat(40)}`), {
    valid: false,
    reason: /malformed/,
  })
  t.match(verifySignature(SECRET, body, `sha256=${'a'.repeat(63)}`), {
    valid: false,
    reason: /malformed/,
  })
  t.match(verifySignature(SECRET, body, `sha256=${'z'.repeat(64)}`), {
    valid: false,
    reason: /malformed/,
  })
  t.match(verifySignature(SECRET, body, signBody('other', body)), {
    valid: false,
    reason: /does not match/,
  })
  t.match(verifySignature(SECRET, Buffer.from('{"zen":"y"}'), good), {
    valid: false,
    reason: /does not match/,
  })
})

t.test('a signed push to the branch refreshes the cache (JSON and form-encoded)', async (t) => {
  const { repo, app, send } = await setup(t)
  for (const form of [false, true]) {
    const head = repo.writeStack(`pushed-${form}`).commitAndPush()
    const res = await send(
      delivery('push', pushPayload('refs/heads/main', head), { secret: SECRET, form }),
    )
    t.equal(res.statusCode, 200)
    t.match(res.json(), { status: /^(refreshing|queued)$/, message: String })
    await waitFor(
      () => app.desiredState.current().revision === head,
      'the cache to reflect the push',
    )
    t.equal(app.desiredState.current().trigger, 'webhook')
  }
  t.ok(app.desiredState.current().stacks.some((s) => s.path === 'pushed-true'))
})

t.test('bad signatures are 401 JSON and logged at warn; nothing is refreshed', async (t) => {
  const { send, app, refreshCount } = await setup(t)
  const before = refreshCount()
  const unsigned = delivery('push', pushPayload('refs/heads/main', 'a'.repeat(40)))
  const cases: [string, string | undefined][] = [
    ['missing', undefined],
    ['wrong prefix', `sha1=${'a'.repeat(40)}`],
    ['wrong length', `sha256=${'a'.repeat(10)}`],
    ['non-hex', `sha256=${'g'.repeat(64)}`],
    ['wrong secret', signBody('not-the-secret', unsigned.payload)],
  ]
  for (const [name, signature] of cases) {
    const headers = { ...unsigned.headers }
    if (signature) headers['x-hub-signature-256'] = signature
    const res = await send({ payload: unsigned.payload, headers })
    t.equal(res.statusCode, 401, name)
    t.match(res.json(), { statusCode: 401, error: 'Unauthorized', message: String }, name)
    t.notMatch(res.body, SECRET)
  }
  // A body changed after signing fails too.
  const signed = delivery('push', pushPayload('refs/heads/main', 'b'.repeat(40)), {
    secret: SECRET,
  })
  const tampered = await send({ ...signed, payload: signed.payload.replace('octocat', 'mallory') })
  t.equal(tampered.statusCode, 401)
  t.equal(app.logs.filter((l) => l.msg === 'webhook rejected' && l.level === 40).length, 6)
  t.equal(refreshCount(), before, 'no refresh was started')
  t.match(
    (await app.inject('/metrics')).body,
    /docker_cd_webhook_deliveries_total\{provider="github",result="unauthorized"\} 6/,
  )
})

t.test('ping and pushes to other refs are ignored with a reason', async (t) => {
  const { send, refreshCount } = await setup(t)
  const before = refreshCount()
  const ping = await send(delivery('ping', pingPayload(), { secret: SECRET }))
  t.same(ping.json(), { status: 'ignored', message: 'ping event: webhook is set up' })
  const other = await send(
    delivery('push', pushPayload('refs/heads/dev', 'c'.repeat(40)), { secret: SECRET }),
  )
  t.same(other.json(), {
    status: 'ignored',
    message: 'push to refs/heads/dev does not match refs/heads/main',
  })
  const tag = await send(
    delivery('push', pushPayload('refs/tags/main', 'c'.repeat(40)), { secret: SECRET }),
  )
  t.equal(tag.json().status, 'ignored', 'a tag named like the branch is another ref')
  t.equal(refreshCount(), before)
})

t.test('ref filtering for tag and commit configurations', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 1 })
  const commit = repo.tag('v1.0.0')
  const tagged = await build(
    t,
    configFor(server, repo.url, { WEBHOOK_SECRET: SECRET, GIT_REVISION: 'v1.0.0' }),
  )
  await startApp(tagged)
  const sendTo = (app: typeof tagged, ref: string) =>
    app.inject({
      method: 'POST',
      url: '/api/webhook',
      ...delivery('push', pushPayload(ref, commit), { secret: SECRET }),
    })
  t.equal((await sendTo(tagged, 'refs/heads/main')).json().status, 'ignored')
  t.match((await sendTo(tagged, 'refs/tags/v1.0.0')).json(), { status: /refreshing|queued/ })

  const pinned = await build(
    t,
    configFor(server, repo.url, { WEBHOOK_SECRET: SECRET, GIT_REVISION: commit }),
  )
  await startApp(pinned)
  const res = await sendTo(pinned, 'refs/heads/main')
  t.same(res.json(), {
    status: 'ignored',
    message: `revision is pinned to commit ${commit.slice(0, 12)}`,
  })
})

t.test('a redelivered id is ignored: no second refresh', async (t) => {
  const { repo, app, send, refreshCount } = await setup(t)
  const head = repo.writeStack('once').commitAndPush()
  const d = delivery('push', pushPayload('refs/heads/main', head), {
    secret: SECRET,
    id: 'delivery-1',
  })
  t.match((await send(d)).json(), { status: /refreshing|queued/ })
  await waitFor(() => app.desiredState.current().revision === head, 'the first delivery to apply')
  await waitFor(
    () => app.desiredState.current().refreshStatus === 'completed',
    'no refresh running',
  )
  const count = refreshCount()
  const again = await send(d)
  t.same(again.json(), { status: 'ignored', message: 'delivery delivery-1 was already accepted' })
  t.equal(refreshCount(), count)
})

t.test('only accepted ids are remembered: a redelivered ping is still a ping', async (t) => {
  const { send } = await setup(t)
  const ping = delivery('ping', pingPayload(), { secret: SECRET, id: 'ping-1' })
  const expected = { status: 'ignored', message: 'ping event: webhook is set up' }
  t.same((await send(ping)).json(), expected)
  t.same((await send(ping)).json(), expected, 'not "already accepted"')
})

t.test('malformed deliveries: 413, 415, 400 — JSON errors, state untouched', async (t) => {
  const { send, app } = await setup(t)
  const before = app.desiredState.current()
  const big = delivery(
    'push',
    { ref: 'refs/heads/main', padding: 'x'.repeat(1024 * 1024 + 10) },
    { secret: SECRET },
  )
  const tooLarge = await send(big)
  t.equal(tooLarge.statusCode, 413)
  t.match(tooLarge.json(), { statusCode: 413, error: 'Payload Too Large' })

  const text = await app.inject({
    method: 'POST',
    url: '/api/webhook',
    payload: 'hello',
    headers: { 'content-type': 'text/plain', 'x-github-event': 'push' },
  })
  t.equal(text.statusCode, 415)
  t.match(text.json(), { statusCode: 415, error: 'Unsupported Media Type' })

  const garbage = '{"ref": "refs/heads/main",'
  const broken = await send({
    payload: garbage,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-hub-signature-256': signBody(SECRET, garbage),
    },
  })
  t.equal(broken.statusCode, 400)
  t.match(broken.json(), {
    statusCode: 400,
    error: 'Bad Request',
    message: /unreadable delivery body/,
  })

  const formWithoutPayload = 'other=1'
  const form = await send({
    payload: formWithoutPayload,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-github-event': 'push',
      'x-hub-signature-256': signBody(SECRET, formWithoutPayload),
    },
  })
  t.equal(form.statusCode, 400)
  t.same(app.desiredState.current().stacks, before.stacks)
})

t.test('without a secret, unsigned deliveries are accepted', async (t) => {
  const { repo, app, send } = await setup(t, {})
  const head = repo.writeStack('unsigned').commitAndPush()
  const res = await send(delivery('push', pushPayload('refs/heads/main', head)))
  t.equal(res.statusCode, 200)
  await waitFor(() => app.desiredState.current().revision === head, 'the unsigned push to apply')
})
