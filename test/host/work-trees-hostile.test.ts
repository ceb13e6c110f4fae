import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createWorkTrees } from '../../services/host/work-trees.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Hostile trees and a hostile container against the work trees, found by a
// review of the hardening (each failed before its fix): a name with a
// newline, a directory turned into a file over runtime data, a symlink
// swapped in during staging, a name no file system takes.

// biome-ignore lint/suspicious/noExplicitAny: tap's test type
async function setup(t: any, token: string) {
  const server = await startGitServer({ token })
  t.teardown(() => server.close())
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile('web/compose.yaml', 'services: {}\n')
  repo.commitAndPush('first')
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const treeOf = () =>
    app.desiredState.current().stacks.find((s) => s.path === 'web')?.treeOid as string
  const refresh = async () => {
    await app.desiredState.refresh('manual').done
    return treeOf()
  }
  return { server, repo, app, treeOf, refresh }
}

t.test(
  'a file name holding a newline (plain `git add`) claims nothing docker-cd did not write',
  async (t) => {
    const { repo, app, treeOf, refresh } = await setup(t, 'tok-break-nl')
    const stacksDir = tempDir('docker-cd-break-')
    const trees = createWorkTrees({ git: app.gitReader, stacksDir })
    const dir = join(stacksDir, 'web')
    await trees.ensure('web', treeOf())
    // The container's bind mount ./data, with its database.
    mkdirSync(join(dir, 'data'))
    writeFileSync(join(dir, 'data', 'db.sqlite'), 'rows')

    // An ordinary commit: a directory whose name holds a newline.
    repo.writeFile('web/q\ndata/db.sqlite', 'x')
    repo.commitAndPush('odd name')
    await trees.ensure('web', await refresh())
    // ... and the next commit drops it again.
    repo.remove('web/q\ndata')
    repo.commitAndPush('drop odd name')
    await trees.ensure('web', await refresh())

    t.equal(
      existsSync(join(dir, 'data', 'db.sqlite')) &&
        readFileSync(join(dir, 'data', 'db.sqlite'), 'utf8'),
      'rows',
      'the runtime database docker-cd did not write stays',
    )
  },
)

t.test(
  'a directory turned into a file in Git over runtime data: refused, the data stays',
  async (t) => {
    const { repo, app, refresh } = await setup(t, 'tok-break-typ')
    repo.writeFile('web/data/.keep', '')
    repo.commitAndPush('data dir')
    const stacksDir = tempDir('docker-cd-break-')
    const trees = createWorkTrees({ git: app.gitReader, stacksDir })
    const dir = join(stacksDir, 'web')
    await trees.ensure('web', await refresh())
    writeFileSync(join(dir, 'data', 'db.sqlite'), 'rows') // the container's
    repo.remove('web/data').writeFile('web/data', 'now a file\n')
    repo.commitAndPush('data is a file')
    const result = await trees.ensure('web', await refresh()).then(
      () => 'written',
      (error: Error) => error.message,
    )
    t.comment(result)
    t.ok(
      existsSync(join(dir, 'data', 'db.sqlite')),
      'runtime data in a directory docker-cd wrote is never deleted (a directory is never deleted whole)',
    )
  },
)

t.test(
  'a container swaps a file for a symlink while docker-cd stages: a mode-only change never follows it',
  async (t) => {
    const { repo, app, refresh } = await setup(t, 'tok-break-chmod')
    repo.writeFile('web/html/run.sh', 'echo hi\n').writeFile('web/html/big.bin', 'v1\n')
    repo.commitAndPush('files')
    const outside = tempDir('docker-cd-outside-')
    const victim = join(outside, 'secret.key')
    writeFileSync(victim, 'private')
    chmodSync(victim, 0o600)
    const stacksDir = tempDir('docker-cd-break-')
    let duringStaging: (() => void) | undefined
    // The real reader; the hook runs while the blobs are being staged (what a
    // container can do at any time in a bind-mounted ./html).
    const git = {
      listTree: app.gitReader.listTree,
      streamObjects(oids: string[]) {
        const inner = app.gitReader.streamObjects(oids)
        async function* objects() {
          duringStaging?.()
          yield* inner.objects
        }
        return { ...inner, objects: objects() }
      },
    }
    const trees = createWorkTrees({ git, stacksDir })
    const dir = join(stacksDir, 'web')
    await trees.ensure('web', await refresh())
    t.equal(statSync(join(dir, 'html', 'run.sh')).mode & 0o777, 0o644)

    // Next commit: run.sh becomes executable (same blob), big.bin changes.
    repo.writeFile('web/html/big.bin', 'v2\n')
    chmodSync(join(repo.workDir, 'web/html/run.sh'), 0o755)
    repo.commitAndPush('chmod +x and a change')
    duringStaging = () => {
      rmSync(join(dir, 'html', 'run.sh'))
      symlinkSync(victim, join(dir, 'html', 'run.sh'))
    }
    await trees.ensure('web', await refresh()).catch((error: Error) => t.comment(error.message))
    t.equal(statSync(victim).mode & 0o777, 0o600, 'a file outside STACKS_DIR keeps its mode')
  },
)

t.test(
  'a file name longer than the file system allows: the tree is refused before anything changes',
  async (t) => {
    const { repo, app, refresh } = await setup(t, 'tok-break-long')
    repo.writeFile('web/a.conf', 'old\n')
    repo.commitAndPush('conf')
    const stacksDir = tempDir('docker-cd-break-')
    const trees = createWorkTrees({ git: app.gitReader, stacksDir })
    const dir = join(stacksDir, 'web')
    await trees.ensure('web', await refresh())
    // A hand-made tree (or plain `git update-index --add --cacheinfo`): a.conf
    // changes and a 300-byte name is added; git's fsck has no length check.
    const root = repo.rawTree(repo.treeEntries('HEAD').filter((e) => e.name !== 'web'))
    const web = repo.rawTree([
      ...repo.treeEntries('HEAD:web').filter((e) => e.name !== 'a.conf'),
      { mode: '100644', name: 'a.conf', oid: repo.blob('new\n') },
      { mode: '100644', name: 'z'.repeat(300), oid: repo.blob('long\n') },
    ])
    repo.pushTree(
      repo.rawTree([...repo.treeEntries(root), { mode: '40000', name: 'web', oid: web }]),
    )
    const error = await trees.ensure('web', await refresh()).then(
      () => undefined,
      (e: Error & { kind?: string }) => e,
    )
    t.comment(error?.message)
    t.equal(
      error?.kind,
      'tree',
      'a name no file system takes is the tree’s failure (not retried forever)',
    )
    t.equal(
      readFileSync(join(dir, 'a.conf'), 'utf8'),
      'old\n',
      'the live directory is not half-updated (a.conf is old, as the marker says)',
    )
  },
)
