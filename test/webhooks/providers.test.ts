import t, { type Test } from 'tap'
import { webhookResponseSchema } from '../../schemas/api.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import {
  bitbucketPush,
  type GitHost,
  giteaPush,
  gitlabPush,
  hostDelivery,
} from '../helpers/git-hosts.js'
import { startGitServer } from '../helpers/git-server.js'

// POST /api/webhook from each Git host, end to end over a real refresh:
// realistic payloads with the host's full header set, signed its own way
// (form-encoded where the host offers it); wrong secret, another ref,
// ping/test events and redeliveries.

const SECRET = 'whsec-providers-5e1'
const server = await startGitServer({ token: 'tok-providers-2b7' })
t.teardown(() => server.close())

async function setup(t: Test, env: Record<string, string> = { WEBHOOK_SECRET: SECRET }) {
  const repo = createFixtureRepo(server, { stacks: 1 })
  const app = await build(t, configFor(server, repo.url, env))
  await startApp(app)
  const send = async (d: { payload: string; headers: Record<string, string> }) => {
    const res = await app.inject({ method: 'POST', url: '/api/webhook', ...d })
    return { status: res.statusCode, body: res.json() as Record<string, unknown> }
  }
  const metric = async (provider: string, result: string) =>
    Number(
      new RegExp(
        `docker_cd_webhook_deliveries_total\\{provider="${provider}",result="${result}"\\} (\\d+)`,
      ).exec((await app.inject('/metrics')).body)?.[1] ?? 0,
    )
  return { repo, app, send, metric }
}

/** A push of `after` to `ref` as `host` sends it, with its own event name. */
function push(host: GitHost, ref: string, after: string, options = {}) {
  if (host === 'gitlab')
    return hostDelivery(
      'gitlab',
      ref.startsWith('refs/tags/') ? 'Tag Push Hook' : 'Push Hook',
      gitlabPush(ref, after),
      options,
    )
  if (host === 'bitbucket') {
    const [, kind, name] = /^refs\/(heads|tags)\/(.+)$/.exec(ref) as RegExpExecArray
    return hostDelivery(
      'bitbucket',
      'repo:push',
      bitbucketPush([
        { type: kind === 'heads' ? 'branch' : 'tag', name: name as string, hash: after },
      ]),
      options,
    )
  }
  return hostDelivery(host, 'push', giteaPush(ref, after), options)
}

const HOSTS: GitHost[] = ['gitea', 'forgejo', 'gogs', 'gitlab', 'bitbucket']
const FORM_HOSTS = new Set<GitHost>(['gitea', 'forgejo', 'gogs'])

for (const host of HOSTS) {
  t.test(`${host}: a signed push refreshes; wrong secret, other ref, redelivery`, async (t) => {
    const { repo, app, send, metric } = await setup(t)
    const head = repo.writeStack(`from-${host}`).commitAndPush()
    const id = `delivery-${host}-1`
    const accepted = await send(push(host, 'refs/heads/main', head, { secret: SECRET, id }))
    t.equal(accepted.status, 200)
    t.match(webhookResponseSchema.parse(accepted.body), { status: /^(refreshing|queued)$/ })
    await waitFor(() => app.desiredState.current().revision === head, `the ${host} push to land`)
    t.ok(app.desiredState.current().stacks.some((s) => s.path === `from-${host}`))
    t.match(
      app.logs.find((l) => l.msg === 'webhook accepted'),
      { provider: host, delivery: id },
      'the sender is recognised (most specific first)',
    )

    const again = await send(push(host, 'refs/heads/main', head, { secret: SECRET, id }))
    t.match(again.body, { status: 'ignored', message: `delivery ${id} was already accepted` })

    const other = await send(push(host, 'refs/heads/dev', head, { secret: SECRET }))
    t.match(other.body, {
      status: 'ignored',
      message: 'push to refs/heads/dev does not match refs/heads/main',
    })
    const tag = await send(push(host, 'refs/tags/v9', head, { secret: SECRET }))
    t.match(tag.body, { status: 'ignored', message: /push to refs\/tags\/v9 does not match/ })

    const wrong = await send(push(host, 'refs/heads/main', head, { secret: 'not-the-secret' }))
    t.equal(wrong.status, 401)
    t.match(wrong.body, { statusCode: 401, message: /does not match/ })
    const unsigned = await send(push(host, 'refs/heads/main', head))
    t.equal(unsigned.status, 401)
    t.match(unsigned.body, { message: /^missing X-/ })

    if (FORM_HOSTS.has(host)) {
      const next = repo.writeStack(`form-${host}`).commitAndPush()
      const form = await send(push(host, 'refs/heads/main', next, { secret: SECRET, form: true }))
      t.equal(form.status, 200, 'form-encoded delivery')
      await waitFor(() => app.desiredState.current().revision === next, 'the form push to land')
    }
    t.equal(await metric(host, 'unauthorized'), 2, `metrics count ${host} rejections`)
    t.equal(await metric('github', 'unauthorized'), 0, 'not counted as GitHub')
    t.notMatch(JSON.stringify(app.logs), SECRET, 'the secret is in no log line (debug included)')
  })
}

t.test('ping and test events are ignored where the host has one', async (t) => {
  const { send } = await setup(t)
  const bitbucketPing = await send(
    hostDelivery('bitbucket', 'diagnostics:ping', { test: true }, { secret: SECRET }),
  )
  t.match(bitbucketPing.body, { status: 'ignored', message: 'ping event: webhook is set up' })
  for (const host of ['gitea', 'forgejo'] as const) {
    const ping = await send(hostDelivery(host, 'ping', { hook_id: 1 }, { secret: SECRET }))
    t.match(ping.body, { status: 'ignored', message: 'ping event: webhook is set up' }, host)
  }
})

t.test(
  'GitLab: a tag-following cache takes Tag Push Hooks; system hooks with push bodies',
  async (t) => {
    const repo = createFixtureRepo(server, { stacks: 1 })
    repo.tag('v1')
    const app = await build(
      t,
      configFor(server, repo.url, { WEBHOOK_SECRET: SECRET, GIT_REVISION: 'v1' }),
    )
    await startApp(app)
    t.equal(app.desiredState.current().refType, 'tag')
    const send = async (event: string, body: unknown) =>
      (
        await app.inject({
          method: 'POST',
          url: '/api/webhook',
          ...hostDelivery('gitlab', event, body, { secret: SECRET }),
        })
      ).json()
    const head = repo.head()
    t.match(await send('Tag Push Hook', gitlabPush('refs/tags/v1', head)), {
      status: /^(refreshing|queued)$/,
    })
    t.match(await send('Push Hook', gitlabPush('refs/heads/main', head)), {
      status: 'ignored',
      message: 'push to refs/heads/main does not match refs/tags/v1',
    })
    t.match(
      await send('System Hook', gitlabPush('refs/tags/v1', head)),
      { status: /^(refreshing|queued)$/ },
      'an instance-wide system hook with a tag_push body',
    )
    t.match(
      await send('System Hook', gitlabPush('refs/heads/main', head)),
      { status: 'ignored' },
      'a system hook with a push body to another ref',
    )
    t.match(
      await send('Merge Request Hook', { object_kind: 'merge_request' }),
      { status: /^(refreshing|queued)$/ },
      'other events refresh (a no-op when nothing changed)',
    )
  },
)

t.test('Bitbucket: refs from push.changes[].new; a deletion alone is ignored', async (t) => {
  const { repo, send } = await setup(t)
  const head = repo.head()
  const many = await send(
    hostDelivery(
      'bitbucket',
      'repo:push',
      bitbucketPush([
        { type: 'branch', name: 'dev', hash: head },
        { type: 'branch', name: 'main', hash: head },
      ]),
      { secret: SECRET },
    ),
  )
  t.match(many.body, { status: /^(refreshing|queued)$/ }, 'main among the changes')
  const deleted = await send(
    hostDelivery(
      'bitbucket',
      'repo:push',
      bitbucketPush([{ type: 'branch', name: 'main', hash: head, deleted: true }]),
      { secret: SECRET },
    ),
  )
  t.match(deleted.body, {
    status: 'ignored',
    message: 'push to no branch or tag (deleted) does not match refs/heads/main',
  })
})

t.test('without WEBHOOK_SECRET every host’s unsigned push is accepted', async (t) => {
  const { repo, send } = await setup(t, {})
  const head = repo.head()
  for (const host of HOSTS) {
    const res = await send(push(host, 'refs/heads/main', head))
    t.equal(res.status, 200, host)
    t.match(res.body, { status: /^(refreshing|queued)$/ }, host)
  }
})
