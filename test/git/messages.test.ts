import t, { type Test } from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { type GitServer, startGitServer } from '../helpers/git-server.js'

// The startup messages about GIT_REPO_URL, the credential and GIT_REVISION,
// against a real HTTPS Git server (git http-backend): each says what is
// wrong in an operator's words (not git's "not found" or "not our ref") and
// names the variable to change. The whole line is compared, so a message
// that loses the variable, or goes back to git's words, fails. The same
// over ssh is in ssh.test.ts (its key copies are checked for leftovers in
// /tmp, so no other file runs ssh beside it).

const TOKEN = 'tok-messages-3b9e71'
const server = await startGitServer({ token: TOKEN })
t.teardown(() => server.close())
const repo = createFixtureRepo(server, { stacks: 1 })
const head = repo.head()

/** The startup refresh's failure: one line, token-free. */
async function startupFailure(
  t: Test,
  env: Record<string, string>,
  git: GitServer = server,
): Promise<string> {
  const app = await build(t, configFor(git, repo.url, env))
  const error = await startApp(app).then(
    () => undefined,
    (e: Error) => e,
  )
  const message = error?.message ?? 'startup did not fail'
  t.notMatch(message, TOKEN, 'the token is not in the message')
  t.notMatch(JSON.stringify(app.logs), TOKEN, 'nor in the log')
  t.notMatch(message, /\n/, 'one line')
  return message
}

t.test('a full SHA the repository does not have: not "not our ref"', async (t) => {
  const sha = 'b'.repeat(40)
  t.equal(
    await startupFailure(t, { GIT_REVISION: sha }),
    `startup refresh failed: ref_not_found: GIT_REVISION ${sha} is not a commit in the repository: no branch or tag on the server contains it, so the server will not send it; check the SHA, or set GIT_REVISION to a branch or tag`,
  )
})

t.test('a shortened SHA: the full 40-character SHA is needed', async (t) => {
  const short = head.slice(0, 7)
  t.equal(
    await startupFailure(t, { GIT_REVISION: short }),
    `startup refresh failed: ref_not_found: GIT_REVISION "${short}" is not a branch or tag of the repository; if it is a commit, GIT_REVISION needs its full 40-character SHA (git rev-parse ${short} prints it)`,
  )
})

t.test('a branch or tag the repository does not have', async (t) => {
  t.equal(
    await startupFailure(t, { GIT_REVISION: 'no-such-branch' }),
    'startup refresh failed: ref_not_found: GIT_REVISION "no-such-branch" is not a branch or tag of the repository: set GIT_REVISION to an existing branch, tag or full 40-character commit SHA',
  )
  t.equal(
    await startupFailure(t, { GIT_REVISION: 'refs/heads/gone' }),
    'startup refresh failed: ref_not_found: GIT_REVISION "refs/heads/gone" is not a branch of the repository: set GIT_REVISION to an existing branch, tag or full 40-character commit SHA',
  )
  t.equal(
    await startupFailure(t, { GIT_REVISION: 'refs/tags/v9' }),
    'startup refresh failed: ref_not_found: GIT_REVISION "refs/tags/v9" is not a tag of the repository: set GIT_REVISION to an existing branch, tag or full 40-character commit SHA',
  )
})

t.test(
  'a repository path the server does not have (HTTP 404): GIT_REPO_URL and the token',
  async (t) => {
    const missing = repo.url.replace(/[^/]+$/, 'no-such-repo.git')
    t.equal(
      await startupFailure(t, { GIT_REPO_URL: missing }),
      `startup refresh failed: unreachable: the Git server answered that there is no repository at ${missing} (HTTP 404), or that the token may not see it: check the path in GIT_REPO_URL, and that GIT_ACCESS_TOKEN (or GIT_ACCESS_TOKEN_FILE) may read that repository`,
    )

    const open = await startGitServer()
    t.teardown(() => open.close())
    const anonymous = `${open.base()}/no-such-repo.git`
    t.equal(
      await startupFailure(t, { GIT_REPO_URL: anonymous }, open),
      `startup refresh failed: unreachable: the Git server answered that there is no repository at ${anonymous} (HTTP 404): check the path in GIT_REPO_URL; a private repository also needs GIT_ACCESS_TOKEN (or GIT_ACCESS_TOKEN_FILE)`,
      'without a token, the message says a private repository needs one',
    )
  },
)
