import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo, git } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// A stack's last deployed tree survives pruning of the mirror (the rollback
// needs it after the repository has moved on, even after a force-push
// that made it unreachable from every branch); released, it goes.

t.test('a kept tree survives a prune; a released one does not', async (t) => {
  const server = await startGitServer({ token: 'tok-kept-9d' })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile('web/compose.yaml', 'services: {}\n').writeFile('web/app.env', 'A=1\n')
  repo.writeFile('db/compose.yaml', 'services: {}\n').writeFile('db/app.env', 'B=1\n')
  repo.commitAndPush('first')
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const treeOf = (path: string) =>
    app.desiredState.current().stacks.find((s) => s.path === path)?.treeOid as string
  const web = treeOf('web')
  const db = treeOf('db')
  await app.gitReader.keepTree('web', web)
  await app.gitReader.keepTree('db', db)
  await app.gitReader.releaseTree('db')

  // History rewritten: the first commit (and both trees) are reachable from no branch.
  repo.forcePush(() => {
    repo.writeFile('web/app.env', 'A=2\n').writeFile('db/app.env', 'B=2\n')
  })
  await app.desiredState.refresh('manual').done
  t.not(treeOf('web'), web)
  // What maintenance.ts runs once the mirror has grown, run here at once.
  const mirror = join(
    app.config.gitCacheDir,
    readdirSync(app.config.gitCacheDir).find((name) => name.endsWith('.git')) as string,
  )
  git(mirror, 'repack', '-a', '-d', '-q')
  git(mirror, 'prune', '--expire=now')
  t.match(
    (await app.gitReader.listTree(web)).map((entry) => entry.path),
    ['app.env', 'compose.yaml'],
    'the kept tree is still there',
  )
  await t.rejects(app.gitReader.listTree(db), 'the released tree was pruned')
})
