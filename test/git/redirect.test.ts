import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// The token never leaves for another origin: a Git server that redirects
// (to another port over https, or to plain http) fails the refresh with a
// message naming where it points, and the redirect target never sees an
// Authorization header. Before redirects were refused, git followed the
// first one and sent the token to the target, and the refresh "completed"
// with the target's content.

const TOKEN = 'tok-redirect-5c1e'
const source = await startGitServer({ token: TOKEN })
// A second, fully working Git server with the same repository name that, like
// an attacker's, asks for nothing: if git followed the redirect, the refresh
// would succeed against it, and any header git sends is recorded.
const target = await startGitServer()
t.teardown(async () => {
  await source.close()
  await target.close()
})
// Both servers' certificates are trusted, so only the redirect policy stands
// between the token and the second origin.
const bothCas = join(tempDir('docker-cd-ca-'), 'bundle.pem')
writeFileSync(bothCas, readFileSync(source.caFile, 'utf8') + readFileSync(target.caFile, 'utf8'))
const configWithBothCas = (url: string) => configFor(source, url, { GIT_SSL_CAINFO: bothCas })

t.test('https → another https origin: refused, no Authorization reaches it', async (t) => {
  const repo = createFixtureRepo(source, { stacks: 2, name: 'app' })
  const app = await build(t, configWithBothCas(repo.url), { backoffInitialMs: 3_600_000 })
  await startApp(app)
  const good = app.desiredState.current()

  const moved = createFixtureRepo(target, { stacks: 5, name: 'app' })
  moved.writeStack('only-on-the-target').commitAndPush()
  source.setRedirect(target.base())
  t.teardown(() => source.setRedirect(undefined))
  const outcome = await app.desiredState.refresh('manual').done
  t.match(outcome, {
    status: 'failed',
    error: {
      reason: 'unreachable',
      message: `unreachable: the server redirected to https://127.0.0.1:${target.port}/app.git; redirects are not followed, so the token never leaves for another host: set GIT_REPO_URL to the final URL`,
    },
  })
  t.equal(app.desiredState.current().revision, good.revision, 'the last good state stays')
  t.equal(
    target.requests.filter((r) => r.withAuthorization).length,
    0,
    'the redirect target never received an Authorization header',
  )
  t.notMatch(JSON.stringify(app.logs), TOKEN)
})

t.test('https → plain http: refused, no credential in cleartext', async (t) => {
  const plain = await startGitServer({ plainHttp: true })
  t.teardown(() => plain.close())
  createFixtureRepo(plain, { stacks: 3, name: 'plain' })
  const repo = createFixtureRepo(source, { stacks: 1, name: 'plain' })
  const app = await build(t, configWithBothCas(repo.url), { backoffInitialMs: 3_600_000 })
  await startApp(app)
  source.setRedirect(plain.base())
  t.teardown(() => source.setRedirect(undefined))
  const outcome = await app.desiredState.refresh('manual').done
  t.equal(outcome.status, 'failed')
  t.match(outcome.message, `redirected to ${plain.base()}/plain.git`)
  t.equal(app.desiredState.current().stacks.length, 1, 'the last good state stays')
  t.equal(
    plain.requests.filter((r) => r.withAuthorization).length,
    0,
    'no Authorization header over plain http',
  )
})

t.test('a redirect at startup exits with the same clear message', async (t) => {
  const repo = createFixtureRepo(source, { stacks: 1, name: 'startup' })
  source.setRedirect(target.base())
  t.teardown(() => source.setRedirect(undefined))
  const app = await build(t, configWithBothCas(repo.url))
  await t.rejects(startApp(app), {
    message:
      /^startup refresh failed: unreachable: the server redirected to https:\/\/127\.0\.0\.1:\d+\/startup\.git; .*set GIT_REPO_URL to the final URL$/,
  })
})
