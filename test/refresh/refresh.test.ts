import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { readTarGz } from '../helpers/archive.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { composeFor, createFixtureRepo, sha256 } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// Refresh behaviour over a real HTTPS Git server: work proportional to
// change, statuses across refreshes, failures that keep the last good state
// and recover, and secrets that never leak.

const TOKEN = 'tok-refresh-3b9e0d7a'
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString('base64')
const server = await startGitServer({ token: TOKEN })
t.teardown(() => server.close())
const posts = (since: number) =>
  server.requests.slice(since).filter((r) => r.method === 'POST').length

async function setup(t: Test, env: Record<string, string> = {}, backoffInitialMs = 60_000) {
  const repo = createFixtureRepo(server, { stacks: 3 })
  const app = await build(t, configFor(server, repo.url, env), { backoffInitialMs })
  await startApp(app)
  const refresh = async () => await app.desiredState.refresh('manual').done
  return { repo, app, refresh }
}

t.test('no-change refresh only resolves the ref: no fetch', async (t) => {
  const { app, refresh } = await setup(t)
  const before = server.requests.length
  const outcome = await refresh()
  t.match(outcome, {
    status: 'completed',
    hashed: 0,
    changes: { added: [], changed: [], removed: [] },
  })
  t.same(outcome.steps, ['resolve'], 'stopped after resolving: the commit is the cached one')
  t.equal(posts(before), 1, 'one upload-pack POST: the ls-refs of ls-remote, no fetch')
  t.match(app.desiredState.current(), { refreshStatus: 'completed', trigger: 'manual' })
})

t.test(
  'one changed stack re-hashes one blob; statuses survive; removed stacks leave',
  async (t) => {
    const { repo, app, refresh } = await setup(t)
    t.ok(app.desiredState.setStackStatus('stack-00000', 'synced'))
    t.ok(app.desiredState.setStackStatus('stack-00001', 'syncing'))
    t.notOk(app.desiredState.setStackStatus('nope', 'synced'))

    repo.writeStack('stack-00001', composeFor('changed', 'redis:7'))
    const changedCommit = repo.commitAndPush('change one stack')
    const before = server.requests.length
    const outcome = await refresh()
    t.match(outcome, {
      status: 'completed',
      hashed: 1,
      revision: changedCommit,
      changes: { added: [], changed: ['stack-00001'], removed: [] },
    })
    t.ok(posts(before) >= 2, 'a changed revision is fetched')
    t.same(
      app.desiredState.current().stacks.map((s) => [s.path, s.status]),
      [
        ['stack-00000', 'synced'],
        ['stack-00001', 'syncing'],
        ['stack-00002', 'missing'],
      ],
    )

    repo.removeStack('stack-00000').writeStack('fresh')
    repo.writeFile('stack-00002/notes.txt', 'not a compose change\n')
    repo.commitAndPush('remove one, add one, touch one')
    t.match(
      await refresh(),
      {
        status: 'completed',
        hashed: 1,
        changes: { added: ['fresh'], changed: ['stack-00002'], removed: ['stack-00000'] },
      },
      'only the new stack is hashed',
    )
    t.same(
      app.desiredState.current().stacks.map((s) => [s.path, s.status]),
      [
        ['fresh', 'missing'],
        ['stack-00001', 'syncing'],
        ['stack-00002', 'missing'],
      ],
    )
  },
)

t.test('a new commit whose deploy tree is unchanged reads one tree, hashes nothing', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 2, deployDir: 'stacks' })
  const app = await build(t, configFor(server, repo.url, { GIT_DEPLOY_DIR: 'stacks' }))
  await startApp(app)
  t.ok(app.desiredState.setStackStatus('stack-00000', 'synced'))
  const stacksBefore = app.desiredState.current().stacks
  repo.writeFile('README.md', 'outside the deploy directory\n')
  const head = repo.commitAndPush('docs only')
  const outcome = await app.desiredState.refresh('manual').done
  t.match(outcome, {
    status: 'completed',
    revision: head,
    hashed: 0,
    changes: { added: [], changed: [], removed: [] },
  })
  t.same(outcome.steps, ['resolve', 'fetch', 'read-deploy-tree'], 'stopped at the unchanged tree')
  t.equal(app.desiredState.current().revision, head)
  t.same(app.desiredState.current().stacks, stacksBefore, 'same stacks, statuses kept')
})

t.test('force-push is just a new commit', async (t) => {
  const { repo, app, refresh } = await setup(t)
  repo.writeStack('extra')
  repo.commitAndPush('extra')
  await refresh()
  const rewritten = repo.forcePush(() => repo.writeStack('other'))
  t.match(await refresh(), { status: 'completed', revision: rewritten })
  t.same(
    app.desiredState.current().stacks.map((s) => s.path),
    ['other', 'stack-00000', 'stack-00001', 'stack-00002'],
  )
})

t.test('failures keep the last good snapshot and recover on the next refresh', async (t) => {
  const { repo, app, refresh } = await setup(t)
  const expectFailed = async (t: Test, category: RegExp) => {
    const good = app.desiredState.current()
    const outcome = await refresh()
    t.equal(outcome.status, 'failed')
    const state = app.desiredState.current()
    t.match(state, {
      refreshStatus: 'failed',
      revision: good.revision,
      refreshedAt: good.refreshedAt,
    })
    t.same(state.stacks, good.stacks, 'last good stacks kept')
    t.match(state.refreshError, category)
  }
  const expectRecovered = async (t: Test) => {
    t.match(await refresh(), { status: 'completed' })
    t.match(app.desiredState.current(), { refreshStatus: 'completed' })
    t.notOk('refreshError' in app.desiredState.current(), 'error cleared')
  }

  await t.test('server down', async (t) => {
    await server.stop()
    await expectFailed(t, /^unreachable: /)
    await server.restart()
    await expectRecovered(t)
  })
  await t.test('token revoked', async (t) => {
    server.setToken('rotated-token-value')
    await expectFailed(t, /^auth_failed: /)
    server.setToken(TOKEN)
    await expectRecovered(t)
  })
  await t.test('branch deleted', async (t) => {
    repo.deleteRemoteBranch()
    await expectFailed(
      t,
      /^ref_not_found: GIT_REVISION "main" is not a branch or tag of the repository: set GIT_REVISION/,
    )
    repo.push()
    await expectRecovered(t)
  })
  await t.test('hanging server times out', async (t) => {
    const app2 = await build(t, configFor(server, repo.url, { GIT_TIMEOUT: '1s' }))
    await startApp(app2)
    server.setHang(true)
    const outcome = await app2.desiredState.refresh('manual').done
    server.setHang(false)
    t.equal(outcome.status, 'failed')
    t.match(app2.desiredState.current().refreshError, /^timeout: /)
    t.equal(app2.desiredState.current().stacks.length, 3)
    t.match(await app2.desiredState.refresh('manual').done, { status: 'completed' })
  })
})

t.test('a corrupted or foreign mirror is rebuilt', async (t) => {
  const { repo, app, refresh } = await setup(t)
  // The reader keeps its mirror to itself; the test finds it on disk.
  const cacheDir = app.config.gitCacheDir
  const mirror = join(cacheDir, readdirSync(cacheDir).find((name) => name.endsWith('.git')) ?? '')
  // Corrupt: every object and ref of the mirror gone, garbage in their place.
  rmSync(join(mirror, 'objects'), { recursive: true, force: true })
  writeFileSync(join(mirror, 'HEAD'), 'garbage\n')
  repo.writeStack('after-corruption')
  const head = repo.commitAndPush()
  t.match(await refresh(), { status: 'completed', revision: head })
  t.equal(app.desiredState.current().stacks.length, 4)
  t.ok(readdirSync(join(mirror, 'objects')).length > 0, 'mirror rebuilt')

  // Foreign: the cache dir holds a mirror of another repository under our key.
  writeFileSync(join(mirror, 'docker-cd-url'), 'https://elsewhere.example/other.git')
  repo.writeStack('after-foreign')
  const head2 = repo.commitAndPush()
  t.match(await refresh(), { status: 'completed', revision: head2 })
  t.equal(app.desiredState.current().stacks.length, 5)
})

t.test(
  '1,000 concurrent enqueues: one running, one waiting, final state has the last push',
  async (t) => {
    const { repo, app } = await setup(t)
    const answers = []
    for (let i = 0; i < 500; i++) answers.push(app.desiredState.refresh('webhook'))
    repo.writeStack('mid-burst')
    const last = repo.commitAndPush('pushed during the burst')
    for (let i = 0; i < 500; i++) answers.push(app.desiredState.refresh('manual'))
    t.equal(answers.filter((a) => a.status === 'refreshing').length, 1)
    t.equal(answers.filter((a) => a.status === 'queued').length, 999)
    const outcomes = await Promise.all(answers.map((a) => a.done))
    t.ok(outcomes.every((o) => o.status === 'completed'))
    t.equal(app.desiredState.current().revision, last)
    const events = app.logs.filter(
      (l) => l.msg === 'refresh started' || l.msg === 'refresh finished',
    )
    const burst = events.slice(2) // after the startup refresh
    t.equal(burst.length, 4, 'two refreshes served a thousand requests')
    t.same(
      burst.map((l) => l.msg),
      ['refresh started', 'refresh finished', 'refresh started', 'refresh finished'],
      'never two at once',
    )
  },
)

t.test('polling picks up a new commit; a failed refresh is retried with backoff', async (t) => {
  const { repo, app } = await setup(t, { REFRESH_POLL_INTERVAL: '200ms' })
  const pushed = repo.writeStack('polled').commitAndPush()
  await waitFor(() => app.desiredState.current().revision === pushed, 'the poll to see the push')
  t.equal(app.desiredState.current().trigger, 'periodic')

  const { app: quiet } = await setup(t, { REFRESH_POLL_INTERVAL: '0' }, 20)
  await server.stop()
  t.equal((await quiet.desiredState.refresh('manual').done).status, 'failed')
  await server.restart()
  await waitFor(
    () => quiet.desiredState.current().refreshStatus === 'completed',
    'the backoff retry to succeed',
  )
  t.equal(
    quiet.desiredState.current().trigger,
    'periodic',
    'retried by the scheduler, not by a caller',
  )
})

t.test('close() stops a hanging git command and the timer', async (t) => {
  const { app } = await setup(t, { REFRESH_POLL_INTERVAL: '1s', GIT_TIMEOUT: '60s' })
  server.setHang(true)
  t.teardown(() => server.setHang(false))
  const pending = app.desiredState.refresh('manual')
  await waitFor(
    () => app.desiredState.current().refreshStatus === 'refreshing',
    'the refresh to run',
  )
  await app.close()
  t.match(await pending.done, { status: 'failed' })
  t.match(app.desiredState.current().refreshError, /^aborted: /)
})

t.test('the token never appears in command lines, logs or stored errors', async (t) => {
  const { repo, app, refresh } = await setup(t)
  repo.writeStack('leak-check').commitAndPush()
  await refresh()
  server.setToken('another-token-value')
  await refresh()
  server.setToken(TOKEN)
  await server.stop()
  await refresh()
  await server.restart()
  t.ok(server.requests.length > 0)
  t.same(server.tokenLeaks, [], 'no process ever had the token in its argv')
  const logText = JSON.stringify(app.logs)
  t.notMatch(logText, TOKEN)
  t.notMatch(logText, BASIC)
  t.ok(
    app.logs.some((l) => l.msg.startsWith('refresh failed')),
    'failures were logged',
  )
  const state = JSON.stringify(app.desiredState.current())
  t.notMatch(state, TOKEN)
  t.notMatch(state, BASIC)
  const grep = spawnSync('grep', ['-rl', '-e', TOKEN, '-e', BASIC, app.config.gitCacheDir], {
    encoding: 'utf8',
  })
  t.equal(grep.status, 1, 'grep ran and found no file in the cache dir holding the token')
  t.equal(grep.stdout, '')
})

t.test('a large Compose file is hashed as it streams, byte-exact', async (t) => {
  const { repo, app, refresh } = await setup(t)
  // 48 MiB that compress well in Git (small there, large when read).
  const big = Buffer.alloc(48 * 1024 * 1024, '# padding line for a large compose file\n')
  big.write('services:\n  big:\n    image: app:1\n', 0)
  repo.writeStack('big', big)
  repo.commitAndPush('a large compose file')
  t.match(await refresh(), { status: 'completed', hashed: 1 })
  const stack = app.desiredState.current().stacks.find((s) => s.path === 'big')
  t.equal(stack?.composeHash, sha256(big))
})

t.test(
  'directories and files whose names are not UTF-8: skipped with a warning, never merged',
  async (t) => {
    const { repo, app, refresh } = await setup(t)
    const inWorkDir = (...bytes: Buffer[]) =>
      Buffer.concat([Buffer.from(`${repo.workDir}/`), ...bytes])
    for (const name of [Buffer.from([0x73, 0xff]), Buffer.from([0x73, 0xfe])]) {
      mkdirSync(inWorkDir(name))
      writeFileSync(inWorkDir(name, Buffer.from('/compose.yaml')), composeFor('odd'))
    }
    writeFileSync(inWorkDir(Buffer.from('stack-00000/'), Buffer.from([0xff, 0x2e, 0x74])), 'x')
    repo.commitAndPush()
    const outcome = await refresh()
    t.equal(outcome.status, 'completed')
    t.same(outcome.skipped, ['s\\xfe', 's\\xff'], 'both named, escaped, distinct')
    t.same(
      app.desiredState.current().stacks.map((s) => s.path),
      ['stack-00000', 'stack-00001', 'stack-00002'],
      'no stack under a garbled name',
    )
    t.match(
      app.logs.find((l) => l.level === 40 && /not valid UTF-8/.test(l.msg)),
      { skipped: ['s\\xfe', 's\\xff'] },
      'a warning names their bytes',
    )

    const res = await app.inject('/api/stacks/stack-00000/archive')
    t.equal(res.statusCode, 200)
    t.same(
      (await readTarGz(res.rawPayload)).map((entry) => entry.name),
      ['compose.yaml'],
      'the archive leaves the file out',
    )
    t.match(
      app.logs.find((l) => l.level === 40 && /archive/.test(l.msg)),
      { stack: 'stack-00000', skipped: ['\\xff.t'] },
    )
  },
)
