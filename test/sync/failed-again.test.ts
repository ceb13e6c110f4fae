import t from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { followStackStatus, type StatusEvent } from '../helpers/status-feed.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 25 ("one view of a stack"), on the real engine: a stack that fails
// again on a newer commit stays `failed`, and only its reason changes. The
// reason is part of the stack's state, so the new one reaches a real
// EventSource client as a `stack-status` event and the API shows it —
// also when nothing else changed (failed → failed, same health).

const unavailable = hostUnavailable()

t.test(
  'a stack that fails again on a newer commit: the new reason is an event and in the API',
  { skip: unavailable ?? false },
  async (t) => {
    const server = await startGitServer({ token: 'tok-failed-again-5e' })
    t.teardown(() => server.close())
    const stack = `again-${process.pid}`
    t.teardown(() => removeProject(stack))
    const composeFile = (imageRef: string) =>
      `services:\n  app:\n    image: "${imageRef}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(`${stack}/compose.yaml`, composeFile('Not/A:Valid:Reference'))
      .commitAndPush('a stack whose image reference the engine refuses')

    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        STACKS_DIR: tempDir('docker-cd-stacks-'),
        SYNC_TIMEOUT: '20s',
      }),
      { maxEventLoopDelayMs: 60_000 },
    )
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    const feed = await followStackStatus(t, base, stack)
    const { events } = feed
    await startApp(app)

    const detail = async () => (await app.inject(`/api/stacks/${stack}`)).json()
    const listed = async () =>
      (await app.inject('/api/stacks')).json().find((s: { path: string }) => s.path === stack)
    const treeNow = () =>
      app.desiredState.current().stacks.find((s) => s.path === stack)?.treeOid ?? ''
    const eventAfter = (from: number, match: (e: StatusEvent) => boolean, what: string) =>
      feed.after(from, match, what, 60_000)
    /** The API says what the last event said: status and reason, in the detail and the list. */
    const apiShows = async (event: StatusEvent, what: string) => {
      const [one, item] = await Promise.all([detail(), listed()])
      t.equal(one.status, event.to, `${what}: the detail's status`)
      t.equal(one.sync?.reason, event.reason, `${what}: the detail's sync.reason`)
      t.equal(item.reason, event.reason, `${what}: the list item's reason`)
    }

    // The first tree fails to deploy.
    const firstTree = treeNow()
    const first = await eventAfter(
      0,
      (e) => e.to === 'failed' && (e.reason ?? '').includes(firstTree.slice(0, 7)),
      'the first failure',
    )
    t.match(first.event.reason, /^deploy of tree [0-9a-f]{7} failed: .*invalid reference format/)
    await apiShows(first.event, 'first failure')

    // A newer commit, broken too: failed again, the reason names the new tree.
    repo
      .writeFile(`${stack}/compose.yaml`, composeFile('Still/Not:A:Valid:Reference'))
      .commitAndPush('still broken')
    await app.desiredState.refresh('manual').done
    const secondTree = treeNow()
    t.not(secondTree, firstTree)
    const second = await eventAfter(
      first.index + 1,
      (e) => e.to === 'failed' && (e.reason ?? '').includes(secondTree.slice(0, 7)),
      'the second failure, with its own reason',
    )
    t.match(second.event.reason, new RegExp(`^deploy of tree ${secondTree.slice(0, 7)} failed: `))
    t.notMatch(second.event.reason, firstTree.slice(0, 7), 'not the old tree')
    await app.sync?.idle()
    await apiShows(second.event, 'second failure')

    // Trees docker-cd refuses to write (an entry named '..'): the stack is
    // failed before and after, with the same health; only the reason moves.
    const refusedTree = (file: string) =>
      repo.pushTree(
        repo.rawTree([
          ...repo.treeEntries('HEAD').filter((entry) => entry.name !== stack),
          {
            mode: '40000',
            name: stack,
            oid: repo.rawTree([
              ...repo.treeEntries(`HEAD:${stack}`),
              {
                mode: '40000',
                name: '..',
                oid: repo.rawTree([{ mode: '100644', name: file, oid: repo.blob('x\n') }]),
              },
            ]),
          },
        ]),
      )
    refusedTree('third.txt')
    await app.desiredState.refresh('manual').done
    const third = await eventAfter(
      second.index + 1,
      (e) => e.to === 'failed' && /refuses.*"\.\.\/third\.txt"/.test(e.reason ?? ''),
      'the refused third tree',
    )
    await apiShows(third.event, 'third tree')

    refusedTree('fourth.txt')
    await app.desiredState.refresh('manual').done
    const fourth = await eventAfter(
      third.index + 1,
      (e) => /"\.\.\/fourth\.txt"/.test(e.reason ?? ''),
      'the reason of the fourth tree, as an event',
    )
    t.match(fourth.event, { from: 'failed', to: 'failed' }, 'a change of the reason alone')
    t.equal(fourth.event.health, third.event.health, '(the same health)')
    t.notMatch(fourth.event.reason, /third\.txt/, 'the old reason is gone')
    t.same(
      events.slice(third.index).map((e) => e.to),
      events.slice(third.index).map(() => 'failed'),
      'the stack stayed failed',
    )
    await apiShows(fourth.event, 'fourth tree')
  },
)
