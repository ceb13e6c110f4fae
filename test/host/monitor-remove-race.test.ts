import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { createHostMonitor } from '../../services/host/monitor.js'
import { createWorkTrees } from '../../services/host/work-trees.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// The monitor serialises checks, name passes and deploys of a stack, and
// the removal of a stack that left Git too: removed beside the ensure that
// was writing it, the ensure finished after the removal and left the files
// and marker of a stack that is gone (found by a review, failed before).

t.test(
  'a stack removed from Git while its work tree is being written: removed after the write, nothing left',
  async (t) => {
    const server = await startGitServer({ token: 'tok-break-race' })
    t.teardown(() => server.close())
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeFile('web/compose.yaml', 'services: {}\n').writeFile('web/a.conf', 'v1\n')
    repo.commitAndPush('first')
    const app = await build(t, configFor(server, repo.url))
    await startApp(app)
    const treeOf = () =>
      app.desiredState.current().stacks.find((s) => s.path === 'web')?.treeOid as string
    const first = treeOf()
    repo.writeFile('web/a.conf', 'v2\n').commitAndPush('second')
    await app.desiredState.refresh('manual').done
    const second = treeOf()

    const stacksDir = tempDir('docker-cd-break-')
    let gate: Promise<void> | undefined
    let open = () => {}
    let gated = false
    const git = {
      // The old tree's listing (ensure's first step) is where the write waits.
      async listTree(oid: string) {
        if (oid === first && gate) {
          gated = true
          await gate
        }
        return app.gitReader.listTree(oid)
      },
      streamObjects: app.gitReader.streamObjects,
    }
    const trees = createWorkTrees({ git, stacksDir })
    await trees.ensure('web', first) // an earlier check wrote the first tree

    let stacks = [{ path: 'web', treeOid: second }]
    const snapshot = () => ({ ...app.desiredState.current(), stacks })
    const monitor = createHostMonitor({
      workTrees: trees,
      runtime: {
        model: async () => {
          throw new Error('no compose in this test')
        },
      } as never,
      current: snapshot as never,
      onState: () => {},
    })
    gate = new Promise((resolve) => {
      open = resolve
    })
    const outcome = (changes: object) =>
      ({
        status: 'completed',
        changes: { added: [], changed: [], removed: [], ...changes },
      }) as never
    monitor.observer.refreshFinished?.(outcome({ changed: ['web'] }), snapshot() as never)
    await waitFor(async () => gated, 'the write of the second tree is under way')

    // The next commit removes the stack.
    stacks = []
    monitor.observer.refreshFinished?.(outcome({ removed: ['web'] }), snapshot() as never)
    await new Promise((resolve) => setImmediate(resolve))
    t.ok(existsSync(join(stacksDir, 'web')), 'the removal waits for the write under way')
    open()
    await monitor.idle()
    await monitor.close()
    t.same(
      existsSync(join(stacksDir, 'web')) ? readdirSync(join(stacksDir, 'web')) : [],
      [],
      'nothing of the removed stack is left in STACKS_DIR',
    )
    t.equal(await trees.writtenTree('web'), undefined, 'no marker of a removed stack')
  },
)
