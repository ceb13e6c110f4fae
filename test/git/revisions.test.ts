import t, { type Test } from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// How GIT_REVISION resolves against a real HTTPS Git server, and how startup
// fails (one line, naming the category) when the repository is not usable.

const TOKEN = 'tok-revisions-6f1d2c'
const server = await startGitServer({ token: TOKEN })
t.teardown(() => server.close())
const repo = createFixtureRepo(server, { stacks: 2 })
const first = repo.head()
const lightweight = repo.tag('v1.0.0')
const annotated = repo.tag('v2.0.0', true)
repo.writeStack('added')
const second = repo.commitAndPush('add a stack')
repo.push('release/1.x')

const startup = async (t: Test, env: Record<string, string>) => {
  const app = await build(t, configFor(server, repo.url, env))
  await startApp(app)
  return app.desiredState.current()
}

t.test('branch', async (t) => {
  const state = await startup(t, { GIT_REVISION: 'main' })
  t.match(state, {
    revision: second,
    ref: 'main',
    refType: 'branch',
    refreshStatus: 'completed',
    trigger: 'startup',
  })
  t.equal(state.stacks.length, 3)
})

t.test('refs/heads/ form and a branch with a slash', async (t) => {
  t.match(await startup(t, { GIT_REVISION: 'refs/heads/main' }), {
    revision: second,
    ref: 'main',
    refType: 'branch',
  })
  t.match(await startup(t, { GIT_REVISION: 'release/1.x' }), {
    revision: second,
    refType: 'branch',
  })
})

t.test('lightweight tag', async (t) => {
  const state = await startup(t, { GIT_REVISION: 'v1.0.0' })
  t.match(state, { revision: lightweight, ref: 'v1.0.0', refType: 'tag' })
  t.equal(state.stacks.length, 2)
})

t.test('annotated tag resolves to its commit', async (t) => {
  t.equal(annotated, first)
  t.match(await startup(t, { GIT_REVISION: 'refs/tags/v2.0.0' }), {
    revision: first,
    ref: 'v2.0.0',
    refType: 'tag',
  })
})

t.test('full commit SHA', async (t) => {
  const state = await startup(t, { GIT_REVISION: first })
  t.match(state, { revision: first, ref: first, refType: 'commit' })
  t.equal(state.stacks.length, 2)
})

const startupFailure = async (
  t: Test,
  env: Record<string, string>,
  serverOverride?: typeof server,
) => {
  const app = await build(t, configFor(serverOverride ?? server, repo.url, env))
  const error = await startApp(app).then(
    () => undefined,
    (e: Error) => e,
  )
  t.ok(error, 'ready() rejects')
  t.equal(app.desiredState.isReady(), false)
  const message = error?.message ?? ''
  t.notMatch(message, TOKEN)
  t.notMatch(message, /\n/, 'one line')
  return message
}

t.test('startup fails with a named category', async (t) => {
  t.match(
    await startupFailure(t, { GIT_REVISION: 'no-such-branch' }),
    /^startup refresh failed: ref_not_found: /,
  )
  t.match(
    await startupFailure(t, { GIT_REVISION: 'b'.repeat(40) }),
    /^startup refresh failed: ref_not_found: /,
  )
  t.match(
    await startupFailure(t, { GIT_DEPLOY_DIR: 'nope' }),
    /path_not_found: deploy directory "nope" does not exist/,
  )
  t.match(
    await startupFailure(t, { GIT_DEPLOY_DIR: 'stack-00000/compose.yaml' }),
    /path_not_found: .* is not a directory/,
  )
  t.match(await startupFailure(t, { GIT_ACCESS_TOKEN: 'wrong-token' }), /auth_failed/)
  t.match(
    await startupFailure(t, { GIT_ACCESS_TOKEN: '' }),
    /auth_failed/,
    'anonymous against a private repo',
  )
  t.match(await startupFailure(t, { GIT_REPO_URL: 'https://127.0.0.1:1/none.git' }), /unreachable/)
  t.match(
    await startupFailure(t, { GIT_SSL_CAINFO: '' }),
    /unreachable: .*certificate/i,
    'untrusted certificate',
  )
})

t.test('a hanging server fails with timeout within GIT_TIMEOUT', async (t) => {
  server.setHang(true)
  t.teardown(() => server.setHang(false))
  t.match(
    await startupFailure(t, { GIT_TIMEOUT: '1s' }),
    /timeout: git ls-remote did not finish within 1000ms/,
  )
})

t.test('anonymous access to a public repository', async (t) => {
  const open = await startGitServer()
  t.teardown(() => open.close())
  const publicRepo = createFixtureRepo(open, { stacks: 1 })
  const app = await build(t, configFor(open, publicRepo.url))
  await startApp(app)
  t.equal(app.desiredState.current().revision, publicRepo.head())
  t.ok(open.requests.every((r) => r.authorized))
})
