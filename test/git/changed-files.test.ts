import t from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// The files that differ between two trees of a stack, from the mirror
// (`diff-tree`, no checkout): what a deploy will match to the services that
// read them (services/host/service-reads.ts).

t.test('changed files between two trees of a stack', async (t) => {
  const server = await startGitServer({ token: 'tok-changed-files-4e' })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile('web/compose.yaml', 'services: {}\n')
    .writeFile('web/nginx.conf', 'a\n')
    .writeFile('web/conf/deep/app.conf', 'a\n')
    .writeFile('web/gone.txt', 'a\n')
    .writeFile('web/README.md', 'a\n')
  repo.commitAndPush('first')
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const treeOf = () =>
    app.desiredState.current().stacks.find((s) => s.path === 'web')?.treeOid as string
  const first = treeOf()
  repo
    .writeFile('web/nginx.conf', 'b\n')
    .writeFile('web/conf/deep/app.conf', 'b\n')
    .writeFile('web/new.txt', 'b\n')
    .remove('web/gone.txt')
  repo.commitAndPush('second')
  await app.desiredState.refresh('manual').done
  const second = treeOf()
  t.same(
    (await app.gitReader.changedFiles(first, second)).sort(),
    ['conf/deep/app.conf', 'gone.txt', 'new.txt', 'nginx.conf'],
    'changed, added and removed files, relative to the stack; the unchanged README not',
  )
  t.same(await app.gitReader.changedFiles(second, second), [], 'the same tree: nothing')
})
