import { existsSync } from 'node:fs'
import t from 'tap'
import { stackDetailSchema } from '../../schemas/stack.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo, git } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// Each stack is labelled with the commit that last changed *it*, over a
// real HTTPS Git server: at the first look (the shallow mirror alone could
// only name the head), when several commits arrive in one refresh, when one
// commit arrives (no history asked of the server), after a restart (the
// stamp and its subject remembered), and on the stack page once the mirror
// no longer holds the commit.

const server = await startGitServer({ token: 'tok-stack-commits-5e1a' })
t.teardown(() => server.close())

const compose = (tag: string) => `services:\n  app:\n    image: "busybox:${tag}"\n`

t.test('each stack carries the commit that last changed it, and its subject', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 0, deployDir: 'stacks' })
  repo.writeStack('alpha', compose('1')).writeStack('beta', compose('1'))
  const added = repo.commitAndPush('add alpha and beta')
  repo.writeStack('alpha', compose('2'))
  const tuned = repo.commitAndPush('tune alpha')
  repo.writeFile('README.md', 'not a stack\n')
  const docs = repo.commitAndPush('docs only')

  const config = configFor(server, repo.url, { GIT_DEPLOY_DIR: 'stacks' })
  let app = await build(t, config)
  await startApp(app)
  const detail = async (name: string) =>
    stackDetailSchema.parse((await app.inject(`/api/stacks/${name}`)).json())

  // The first look: the head (docs only) changed neither stack.
  let alpha = await detail('alpha')
  let beta = await detail('beta')
  t.equal(alpha.revision, docs)
  t.match(alpha, { changedRevision: tuned, changedSubject: 'tune alpha' })
  t.match(beta, { changedRevision: added, changedSubject: 'add alpha and beta' })
  t.notOk(alpha.firstLook || beta.firstLook, 'found: no first-look caveat')

  // Two commits in one refresh: beta's own, then one that touches no stack.
  repo.writeStack('beta', compose('2'))
  const betaChanged = repo.commitAndPush('move beta to 2')
  repo.writeFile('README.md', 'still not a stack\n')
  repo.commitAndPush('docs again')
  let outcome = await app.desiredState.refresh('manual').done
  t.ok(outcome.steps.includes('find-stack-commits'), 'beta’s tree is new: looked up')
  beta = await detail('beta')
  alpha = await detail('alpha')
  t.match(beta, { changedRevision: betaChanged, changedSubject: 'move beta to 2' })
  t.match(alpha, { changedRevision: tuned }, 'alpha untouched keeps its stamp')

  // One commit: its parent is the last revision, it changed alpha; the
  // server is asked no more than for a commit that changes no stack.
  repo.writeFile('README.md', 'a third time\n')
  repo.commitAndPush('docs, a third time')
  let before = server.requests.length
  outcome = await app.desiredState.refresh('manual').done
  t.notOk(outcome.steps.includes('find-stack-commits'), 'no stack changed: nothing looked up')
  const baseline = server.countSince(before)
  repo.writeStack('alpha', compose('3'))
  const single = repo.commitAndPush('alpha to 3')
  before = server.requests.length
  outcome = await app.desiredState.refresh('manual').done
  t.ok(outcome.steps.includes('find-stack-commits'))
  t.match(await detail('alpha'), { changedRevision: single, changedSubject: 'alpha to 3' })
  t.equal(server.countSince(before), baseline, 'no history fetched for one commit')

  // A restart on the same cache dir: stamps and subjects remembered, nothing looked up.
  await app.close()
  app = await build(t, config)
  await startApp(app)
  t.match(await detail('alpha'), { changedRevision: single, changedSubject: 'alpha to 3' })
  t.match(await detail('beta'), { changedRevision: betaChanged, changedSubject: 'move beta to 2' })
  t.notOk(app.desiredState.lastOutcome()?.steps.includes('find-stack-commits'))

  // The stack page names beta's commit with its subject, kept with the stamp.
  const page = await app.inject('/ui/stacks/beta')
  t.equal(page.statusCode, 200)
  t.match(page.body, /move beta to 2/, 'the subject shown')
  t.ok(existsSync(config.gitCacheDir), 'the cache dir holds the mirror and its history')
  t.equal(git(repo.workDir, 'rev-parse', 'HEAD'), single)
})
