import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { INTERNAL_DIR, stackFileKey } from '../../services/base/index.js'
import { createWorkTrees } from '../../services/host/work-trees.js'
import { stackDirectories } from '../../services/refresh/stack-discovery.js'
import { createDeployRecords } from '../../services/sync/records.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Any name Git allows for a stack directory gets files of its own:
// docker-cd's files about a stack are named by a hash of its name, so a
// stack `.victim.tree` cannot collide with stack `victim`'s marker and a
// 200-character name still fits the file system's 255-byte limit.

const long = `s${'x'.repeat(199)}`

t.test('odd stack names each get their own work tree and marker', async (t) => {
  const server = await startGitServer({ token: 'tok-names-5e' })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server, { stacks: 0 })
  for (const stack of ['victim', '.victim.tree', '.victim.model.json', long])
    repo.writeFile(`${stack}/compose.yaml`, `services: {}\n# ${stack}\n`)
  repo.commitAndPush('odd names')
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const stacksDir = tempDir('docker-cd-stacks-')
  const trees = createWorkTrees({ git: app.gitReader, stacksDir })
  const stacks = app.desiredState.current().stacks
  t.equal(stacks.length, 4, 'every name is a stack')
  for (const stack of stacks) t.equal((await trees.ensure(stack.path, stack.treeOid)).written, true)
  for (const stack of stacks) {
    t.equal(
      await trees.writtenTree(stack.path),
      stack.treeOid,
      `${stack.path.slice(0, 20)}: its tree`,
    )
    await trees.treeRecord(stack.path, stack.treeOid, 'model').set({ name: stack.path })
    t.same(await trees.treeRecord(stack.path, stack.treeOid, 'model').get(), { name: stack.path })
    t.equal(
      readFileSync(join(stacksDir, stack.path, 'compose.yaml'), 'utf8'),
      `services: {}\n# ${stack.path}\n`,
    )
  }
  t.ok(
    readdirSync(join(stacksDir, INTERNAL_DIR))
      .filter((name) => name !== 'staging')
      .every((name) => /^[0-9a-f]{32}\.(tree|model\.json)$/.test(name)),
    'internal files are named by key',
  )
  t.equal(stackFileKey('dup') === stackFileKey('DUP'), false)
  // The last deployed tree kept in the mirror by a ref per stack: any name fits.
  for (const stack of stacks) await app.gitReader.keepTree(stack.path, stack.treeOid)
  for (const stack of stacks) await app.gitReader.releaseTree(stack.path)
  t.pass('a ref kept and released for every name, the 200-character one too')
})

t.test('a marker from before the internal directory is read, then replaced', async (t) => {
  const server = await startGitServer({ token: 'tok-legacy-5e' })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile('web/compose.yaml', 'services: {}\n').writeFile('web/old.txt', 'old\n')
  repo.commitAndPush('first')
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const first = app.desiredState.current().stacks[0]?.treeOid as string
  const stacksDir = tempDir('docker-cd-stacks-')
  // What an earlier version left: the files and `.web.tree` beside them.
  mkdirSync(join(stacksDir, 'web'))
  writeFileSync(join(stacksDir, 'web', 'compose.yaml'), 'services: {}\n')
  writeFileSync(join(stacksDir, 'web', 'old.txt'), 'old\n')
  writeFileSync(join(stacksDir, '.web.tree'), `${first}\ncompose.yaml\nold.txt\n`)
  const trees = createWorkTrees({ git: app.gitReader, stacksDir })
  t.equal(await trees.writtenTree('web'), first, 'the old marker counts')
  repo.remove('web/old.txt').commitAndPush('second')
  await app.desiredState.refresh('manual').done
  await trees.ensure('web', app.desiredState.current().stacks[0]?.treeOid as string)
  t.same(readdirSync(join(stacksDir, 'web')), ['compose.yaml'], 'what the old marker listed goes')
  t.notOk(readdirSync(stacksDir).includes('.web.tree'), 'the old marker is gone')
})

t.test('deploy records: any name fits, old hex-named files are taken over', async (t) => {
  const dir = tempDir('docker-cd-records-')
  const errors: unknown[] = []
  const records = createDeployRecords(dir, (error) => errors.push(error))
  await records.set(long, (record) => ({ ...record, deployedTreeHash: 'a'.repeat(40) }))
  // A file as earlier versions named it: the stack's name in hex.
  writeFileSync(
    join(dir, `${Buffer.from('old').toString('hex')}.json`),
    JSON.stringify({ version: 1, record: { stack: 'old', history: [], deployedTreeHash: 'b' } }),
  )
  await records.flush()
  t.same(errors, [], 'a 200-character name is written')
  const again = createDeployRecords(dir)
  await again.load()
  t.equal(again.get(long)?.deployedTreeHash, 'a'.repeat(40))
  t.equal(again.get('old')?.deployedTreeHash, 'b')
  t.same(
    readdirSync(dir).sort(),
    [`${stackFileKey('old')}.json`, `${stackFileKey(long)}.json`].sort(),
    'the old file now has its key for a name',
  )
})

t.test("root directories that are not stacks: '..', '.', '.git', '.docker-cd', '/'", async (t) => {
  const tree = (name: string) => ({ mode: '40000', name, oid: '1'.repeat(40) })
  const { directories, skipped } = stackDirectories(
    ['..', '.', '.git', '.GIT', INTERNAL_DIR, '', 'a/b', '.hidden', 'ok'].map(tree),
  )
  t.same(
    directories.map((entry) => entry.name),
    ['.hidden', 'ok'],
  )
  t.same(skipped, ['..', '.', '.git', '.GIT', INTERNAL_DIR, '', 'a/b'])
})
