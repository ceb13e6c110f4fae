import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t from 'tap'
import { createWorkTrees } from '../../services/host/work-trees.js'
import { readTarGz } from '../helpers/archive.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Git can store tree entries named '..', '.' or '.git' (a hand-made tree,
// pushed to a server that does not check what it receives). Written out,
// `../../victim.txt` in a stack lands two directories above it. docker-cd
// refuses such a tree for the stack that holds it (failed, with the entry
// named), goes on with the others, never writes, removes or archives
// outside a stack's directory, and lets git refuse malformed objects.

const unavailable = hostUnavailable()

t.test(
  "a stack whose tree holds '..' fails alone; nothing outside STACKS_DIR is written or removed",
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: 'tok-hostile-3f' })
    t.teardown(() => server.close())
    const repo = createFixtureRepo(server, { stacks: 0 })
    const stackFile = `services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n`
    repo.writeFile('good/compose.yaml', stackFile).writeFile('evil/compose.yaml', stackFile)
    repo.commitAndPush('two stacks')

    // STACKS_DIR/.. is the test's own directory; a victim waits there.
    const outside = tempDir('docker-cd-outside-')
    const stacksDir = join(outside, 'stacks')
    const victim = join(outside, 'victim.txt')
    writeFileSync(victim, 'keep\n')

    const app = await build(
      t,
      configFor(server, repo.url, { SYNC_MODE: 'detect', STACKS_DIR: stacksDir }),
      { maxEventLoopDelayMs: 60_000 },
    )
    await startApp(app)
    const stackOf = async (name: string) =>
      (await app.inject('/api/stacks')).json().find((s: { path: string }) => s.path === name)
    await waitFor(async () => (await stackOf('evil'))?.status === 'missing', 'the first check')

    // The hand-made commit: evil gains ../../victim.txt, and the root a
    // directory named '..' with a Compose file (a stack '..' would be
    // written to STACKS_DIR/..).
    const bad = repo.blob('overwritten\n')
    const up = (name: string, entries: { mode: string; name: string; oid: string }[]) => ({
      mode: '40000',
      name,
      oid: repo.rawTree(entries),
    })
    const evil = repo.rawTree([
      ...repo.treeEntries('HEAD:evil'),
      up('..', [up('..', [{ mode: '100644', name: 'victim.txt', oid: bad }])]),
    ])
    const root = repo.rawTree([
      ...repo.treeEntries('HEAD').filter((entry) => entry.name !== 'evil'),
      { mode: '40000', name: 'evil', oid: evil },
      up('..', [{ mode: '100644', name: 'compose.yaml', oid: repo.blob(stackFile) }]),
      up('.git', [{ mode: '100644', name: 'compose.yaml', oid: repo.blob(stackFile) }]),
    ])
    const hostile = repo.pushTree(root)
    const refresh = await app.desiredState.refresh('manual').done
    t.equal(refresh.status, 'completed', 'the refresh itself goes on')
    t.equal(app.desiredState.current().revision, hostile)
    t.same(
      (await app.inject('/api/stacks')).json().map((s: { path: string }) => s.path),
      ['evil', 'good'],
      "root directories named '..' and '.git' are not stacks",
    )
    const failed = await waitFor(async () => {
      const stack = await stackOf('evil')
      return stack?.status === 'failed' ? stack : undefined
    }, 'evil failed')
    const detail = (await app.inject('/api/stacks/evil')).json()
    t.match(detail.sync.reason, /refuses.*"\.\.\/\.\.\/victim\.txt"/, 'the reason names the entry')
    t.equal(failed.status, 'failed')
    t.equal((await stackOf('good')).status, 'missing', 'the other stack is checked as before')
    t.equal(readFileSync(victim, 'utf8'), 'keep\n', 'nothing written above STACKS_DIR')
    t.equal(existsSync(join(outside, 'compose.yaml')), false, "no stack '..' written")
    t.same(
      readdirSync(join(stacksDir, 'evil')),
      ['compose.yaml'],
      "evil's directory keeps the last tree it could hold",
    )

    const archive = await app.inject('/api/stacks/evil/archive')
    t.equal(archive.statusCode, 200)
    const names = (await readTarGz(archive.rawPayload)).map((entry) => entry.name)
    t.same(names, ['compose.yaml'], 'the archive leaves the refused entries out')

    // The next commit (a force-push without them): the victim stays, evil recovers.
    repo.writeFile('evil/extra.txt', 'fine\n').commitAndPush('evil is fine again')
    await app.desiredState.refresh('manual').done
    await waitFor(async () => (await stackOf('evil'))?.status === 'missing', 'evil checked again')
    t.equal(readFileSync(victim, 'utf8'), 'keep\n', 'the victim is still there')
    t.equal(readFileSync(join(stacksDir, 'evil', 'extra.txt'), 'utf8'), 'fine\n')
  },
)

t.test('git refuses a malformed tree: the refresh fails, the last good state stays', async (t) => {
  const server = await startGitServer({ token: 'tok-fsck-3f' })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server, { stacks: 1 })
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const good = app.desiredState.current().revision
  // A name holding '/': indistinguishable from a nested path once listed.
  const root = repo.rawTree([
    ...repo.treeEntries('HEAD'),
    { mode: '100644', name: 'stack-00000/compose.yaml', oid: repo.blob('services: {}\n') },
  ])
  repo.pushTree(root)
  const outcome = await app.desiredState.refresh('manual').done
  t.equal(outcome.status, 'failed', 'fetch.fsckObjects refuses the commit')
  t.equal(app.desiredState.current().revision, good, 'the last good snapshot stays')
  const status = (await app.inject('/api/refresh-status')).json()
  t.equal(status.refreshStatus, 'failed')
  t.match(status.refreshError, /fsck|fullPathname|object/i, 'the error says git refused an object')
})

t.test('a symlink a container made in a mounted directory is never followed', async (t) => {
  const server = await startGitServer({ token: 'tok-symlink-3f' })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile('web/compose.yaml', 'services: {}\n').writeFile('web/conf/app.conf', 'a=1\n')
  repo.writeFile('web/conf/old.conf', 'old\n')
  repo.commitAndPush('first')
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const stacksDir = tempDir('docker-cd-stacks-')
  const trees = createWorkTrees({ git: app.gitReader, stacksDir })
  const treeOf = () => app.desiredState.current().stacks.find((s) => s.path === 'web')?.treeOid
  await trees.ensure('web', treeOf() as string)

  // A container replaces the mounted conf directory with a link elsewhere.
  const elsewhere = tempDir('docker-cd-elsewhere-')
  writeFileSync(join(elsewhere, 'old.conf'), 'not docker-cd\n')
  const conf = join(stacksDir, 'web', 'conf')
  rmSync(conf, { recursive: true })
  symlinkSync(elsewhere, conf)

  repo.writeFile('web/conf/app.conf', 'a=2\n').remove('web/conf/old.conf')
  repo.commitAndPush('second')
  await app.desiredState.refresh('manual').done
  await trees.ensure('web', treeOf() as string)
  t.same(readdirSync(elsewhere), ['old.conf'], 'nothing written into the link target')
  t.equal(readFileSync(join(elsewhere, 'old.conf'), 'utf8'), 'not docker-cd\n', 'nothing removed')
  t.equal(readFileSync(join(conf, 'app.conf'), 'utf8'), 'a=2\n', 'Git says conf is a directory')
  t.ok(!existsSync(join(dirname(conf), 'conf', 'old.conf')), 'old.conf is gone from the stack')
})
