import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createWorkTrees } from '../../services/host/work-trees.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Work trees are updated in place, as `git checkout` updates a checkout:
// containers bind-mount directories of a stack and write data into them,
// so a directory is never swapped or deleted whole.

t.test('a work tree is updated in place and keeps what containers wrote', async (t) => {
  const server = await startGitServer({ token: 'tok-trees-7c' })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile('web/compose.yaml', 'services: {}\n')
    .writeFile('web/html/index.html', 'v1\n')
    .writeFile('web/html/old.html', 'old\n')
    .writeFile('web/conf/app.conf', 'a=1\n')
  repo.commitAndPush('first')
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const stacksDir = tempDir('docker-cd-stacks-')
  const trees = createWorkTrees({ git: app.gitReader, stacksDir })
  const treeOf = () => app.desiredState.current().stacks.find((s) => s.path === 'web')?.treeOid
  const dir = join(stacksDir, 'web')

  t.equal((await trees.ensure('web', treeOf() as string)).written, true)
  const htmlInode = statSync(join(dir, 'html')).ino
  const confInode = statSync(join(dir, 'conf', 'app.conf')).ino
  // What a container writes at runtime into bind-mounted directories of the stack.
  mkdirSync(join(dir, 'data'))
  writeFileSync(join(dir, 'data', 'db.sqlite'), 'rows')
  writeFileSync(join(dir, 'html', 'upload.png'), 'png')

  repo.writeFile('web/html/index.html', 'v2\n').remove('web/html/old.html')
  repo.commitAndPush('second')
  await app.desiredState.refresh('manual').done
  t.equal((await trees.ensure('web', treeOf() as string)).written, true)
  t.equal(readFileSync(join(dir, 'html', 'index.html'), 'utf8'), 'v2\n', 'the changed file')
  t.equal(existsSync(join(dir, 'html', 'old.html')), false, 'a file gone from Git is removed')
  t.equal(statSync(join(dir, 'html')).ino, htmlInode, 'the directory itself stays (mounts see it)')
  t.equal(statSync(join(dir, 'conf', 'app.conf')).ino, confInode, 'an unchanged file is untouched')
  t.equal(readFileSync(join(dir, 'data', 'db.sqlite'), 'utf8'), 'rows', 'runtime data stays')
  t.equal(readFileSync(join(dir, 'html', 'upload.png'), 'utf8'), 'png', 'runtime files stay')
  t.same(
    readdirSync(dir).filter((name) => name.includes('docker-cd-')),
    [],
    'nothing half-written is left beside the files',
  )

  repo.remove('web/conf')
  repo.commitAndPush('third')
  await app.desiredState.refresh('manual').done
  await trees.ensure('web', treeOf() as string)
  t.equal(existsSync(join(dir, 'conf')), false, 'a directory that is emptied goes')

  await trees.remove('web')
  t.same(readdirSync(dir).sort(), ['data', 'html'], 'removal keeps what docker-cd did not write')
  t.same(readdirSync(join(dir, 'html')), ['upload.png'])
  t.equal(await trees.writtenTree('web'), undefined, 'the marker is gone')
})
