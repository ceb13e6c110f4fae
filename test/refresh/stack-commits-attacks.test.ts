import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { stackDetailSchema } from '../../schemas/stack.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo, git } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// "The commit that last changed each stack" under attack, over the real
// HTTPS Git server: rewritten history, merges, a root commit, tags and
// SHAs as GIT_REVISION, awkward directory names, more commits than the
// lookup reads, a history fetch that fails or hangs (and a later refresh
// recovering), a damaged or deleted history repository, and another
// repository on the same cache dir. The token is never in argv, a log
// line, a warning or the history repository's config.

const token = 'tok-stack-commits-attack-9c2f'
const server = await startGitServer({ token })
t.teardown(() => server.close())

const compose = (tag: string) => `services:\n  app:\n    image: "busybox:${tag}"\n`
const historyDirOf = (cacheDir: string, repoUrl: string) =>
  join(cacheDir, `${createHash('sha256').update(repoUrl).digest('hex').slice(0, 16)}.history`)
const mirrorDirOf = (cacheDir: string, repoUrl: string) =>
  join(cacheDir, `${createHash('sha256').update(repoUrl).digest('hex').slice(0, 16)}.git`)

type App = Awaited<ReturnType<typeof build>>
const detailOf = (app: App) => async (name: string) =>
  stackDetailSchema.parse((await app.inject(`/api/stacks/${encodeURIComponent(name)}`)).json())

/** No log line, no warning, no process command line and no history config holds the token. */
function noTokenAnywhere(t: Test, app: App, cacheDir: string, repoUrl: string) {
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64')
  const logs = JSON.stringify(app.logs)
  t.notOk(logs.includes(token) || logs.includes(basic), 'no token in the logs')
  t.same(server.tokenLeaks, [], 'no token in any command line')
  const config = join(historyDirOf(cacheDir, repoUrl), 'config')
  if (existsSync(config)) {
    const text = readFileSync(config, 'utf8')
    t.notOk(text.includes(token) || text.includes(basic), 'no token in <key>.history/config')
    t.notOk(/extraheader|authorization/i.test(text), 'no header in <key>.history/config')
  }
}

t.test('more commits than the lookup reads: first look, not the oldest read commit', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeStack('old', compose('1'))
  repo.commitAndPush('add old')
  // 49 commits after `edge` changed: `edge` is the 50th newest commit.
  repo.writeStack('edge', compose('1'))
  const edge = repo.commitAndPush('add edge')
  for (let i = 0; i < 49; i++) {
    repo.writeFile('README.md', `n ${i}\n`)
    repo.commit(`docs ${i}`)
  }
  const head = repo.push()
  const config = configFor(server, repo.url)
  const app = await build(t, config)
  await startApp(app)
  const detail = detailOf(app)
  t.match(await detail('edge'), { changedRevision: edge, changedSubject: 'add edge' })
  const old = await detail('old')
  t.match(old, { changedRevision: head, firstLook: true }, 'older than 50 commits: first look')
  t.notOk(old.changedSubject, 'no subject of a commit that did not change it')
  noTokenAnywhere(t, app, config.gitCacheDir, repo.url)
})

t.test('force-push, merge commit, a stack changed only on a branch, a root commit', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeStack('alpha', compose('1')).writeStack('beta', compose('1'))
  repo.commitAndPush('add both')
  const config = configFor(server, repo.url)
  const app = await build(t, config)
  await startApp(app)
  const detail = detailOf(app)

  // Rewritten history: the previous revision is no ancestor of the new head.
  repo.writeStack('alpha', compose('2'))
  repo.commitAndPush('alpha to 2')
  await app.desiredState.refresh('manual').done
  const rewritten = repo.forcePush(() => repo.writeStack('alpha', compose('3')))
  let outcome = await app.desiredState.refresh('manual').done
  t.equal(outcome.status, 'completed')
  t.same(outcome.warnings, [])
  t.match(await detail('alpha'), { changedRevision: rewritten, changedSubject: 'rewritten' })

  // A merge commit as head: alpha changed on main, beta only on the branch.
  git(repo.workDir, 'checkout', '--quiet', '-b', 'feature')
  repo.writeStack('beta', compose('2'))
  const onBranch = repo.commit('beta on the branch')
  git(repo.workDir, 'checkout', '--quiet', 'main')
  repo.writeStack('alpha', compose('4'))
  const onMain = repo.commit('alpha on main')
  git(repo.workDir, 'merge', '--quiet', '--no-ff', '-m', 'merge feature', 'feature')
  const merge = repo.push()
  outcome = await app.desiredState.refresh('manual').done
  t.equal(outcome.status, 'completed')
  t.same(outcome.warnings, [])
  t.match(await detail('beta'), { changedRevision: onBranch, changedSubject: 'beta on the branch' })
  t.match(await detail('alpha'), { changedRevision: onMain, changedSubject: 'alpha on main' })
  t.not(merge, onMain)

  // A merge commit whose parent is the previous revision (one new commit,
  // two parents): the branch's commit, not the merge.
  git(repo.workDir, 'checkout', '--quiet', '-b', 'feature2')
  repo.writeStack('beta', compose('3'))
  const onBranch2 = repo.commit('beta on branch 2')
  git(repo.workDir, 'checkout', '--quiet', 'main')
  git(repo.workDir, 'merge', '--quiet', '--no-ff', '-m', 'merge feature2', 'feature2')
  repo.push()
  outcome = await app.desiredState.refresh('manual').done
  t.same(outcome.warnings, [])
  t.match(await detail('beta'), { changedRevision: onBranch2 })

  // A root commit (an orphan force-pushed): it added every stack.
  git(repo.workDir, 'checkout', '--quiet', '--orphan', 'fresh')
  repo.writeStack('alpha', compose('9'))
  const root = repo.commit('start over')
  repo.push('main')
  outcome = await app.desiredState.refresh('manual').done
  t.same(outcome.warnings, [])
  t.match(await detail('alpha'), { changedRevision: root, changedSubject: 'start over' })
  // beta's tree is the one it had: its stamp stays (a stamp follows the tree, not the history).
  t.match(await detail('beta'), { changedRevision: onBranch2 })
  noTokenAnywhere(t, app, config.gitCacheDir, repo.url)
})

for (const kind of ['annotated tag', 'lightweight tag', 'full SHA'] as const)
  t.test(`GIT_REVISION as ${kind}, with and without GIT_DEPLOY_DIR`, async (t) => {
    for (const deployDir of ['', 'deploy/stacks']) {
      const repo = createFixtureRepo(server, { stacks: 0, deployDir })
      const names = ['with space', '*', 'a:b', 'ünï', '-dash', 'plain']
      const changed = new Map<string, string>()
      for (const name of names) {
        repo.writeStack(name, compose('1'))
        changed.set(name, repo.commit(`add ${name}`))
      }
      repo.writeStack('plain', compose('2'))
      changed.set('plain', repo.commit('plain to 2'))
      repo.writeFile('README.md', 'docs\n')
      const head = repo.commitAndPush('docs')
      const revision = kind === 'full SHA' ? head : repo.tag('v1', kind === 'annotated tag') && 'v1'
      const config = configFor(server, repo.url, {
        GIT_REVISION: revision,
        ...(deployDir ? { GIT_DEPLOY_DIR: deployDir } : {}),
      })
      const app = await build(t, config)
      await startApp(app)
      const outcome = app.desiredState.lastOutcome()
      t.same(outcome?.warnings, [], `${kind} ${deployDir || '(root)'}: no warning`)
      const detail = detailOf(app)
      for (const name of names)
        t.match(
          await detail(name),
          { revision: head, changedRevision: changed.get(name) },
          `${kind} ${deployDir || '(root)'}: ${name}`,
        )
      noTokenAnywhere(t, app, config.gitCacheDir, repo.url)
      await app.close()
    }
  })

t.test(
  'a history fetch that hangs or is refused: a warning, the head, no token; then recovery',
  async (t) => {
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeStack('alpha', compose('1'))
    const added = repo.commitAndPush('add alpha')
    repo.writeFile('README.md', 'docs\n')
    const head = repo.commitAndPush('docs')
    const config = configFor(server, repo.url, { GIT_TIMEOUT: '3s' })
    const historyDir = historyDirOf(config.gitCacheDir, repo.url)
    // Once the history repository exists the mirror's fetch is over: what
    // reaches the server now is the history fetch.
    let mode: 'hang' | 'refuse' | undefined = 'hang'
    server.onRequest(() => {
      if (!mode || !existsSync(historyDir)) return
      if (mode === 'hang') server.setHang(true)
      else server.setToken('some-other-token')
    })
    t.teardown(() => {
      server.setHang(false)
      server.setToken(token)
    })
    const app = await build(t, config)
    await startApp(app)
    server.setHang(false)
    const detail = detailOf(app)
    let outcome = app.desiredState.lastOutcome()
    t.equal(outcome?.status, 'completed', 'a hanging history fetch never fails the refresh')
    t.match(outcome?.warnings, [/find-stack-commits failed/])
    t.match(await detail('alpha'), { changedRevision: head, firstLook: true })

    // Refused (401) on a later refresh of several commits.
    mode = 'refuse'
    rmSync(historyDir, { recursive: true, force: true })
    repo.writeStack('alpha', compose('2'))
    const alphaTo2 = repo.commit('alpha to 2')
    repo.writeFile('README.md', 'docs 2\n')
    const head2 = repo.commitAndPush('docs 2')
    outcome = await app.desiredState.refresh('manual').done
    server.setToken(token)
    t.equal(outcome.status, 'completed', 'a refused history fetch never fails the refresh')
    t.match(outcome.warnings, [/find-stack-commits failed/])
    for (const warning of outcome.warnings) t.notOk(warning.includes(token))
    const failed = await detail('alpha')
    t.equal(failed.changedRevision, head2, 'labelled with the head')
    t.ok(failed.firstLook, 'the head is not claimed to have changed it: the caveat is shown')

    // Recovery: the server answers again; the next refresh (a commit that
    // touches no stack) names alpha's own commit.
    mode = undefined
    repo.writeFile('README.md', 'docs 3\n')
    repo.commitAndPush('docs 3')
    outcome = await app.desiredState.refresh('manual').done
    t.same(outcome.warnings, [])
    const recovered = await detail('alpha')
    t.match(recovered, { changedRevision: alphaTo2, changedSubject: 'alpha to 2' }, 'recovered')
    t.notOk(recovered.firstLook)
    t.not(added, alphaTo2)

    // Failed again, then a restart: the pending lookup is remembered and done at startup.
    mode = 'refuse'
    rmSync(historyDir, { recursive: true, force: true })
    repo.writeStack('alpha', compose('3'))
    const alphaTo3 = repo.commit('alpha to 3')
    repo.writeFile('README.md', 'docs 4\n')
    repo.commitAndPush('docs 4')
    outcome = await app.desiredState.refresh('manual').done
    server.setToken(token)
    mode = undefined
    t.match(outcome.warnings, [/find-stack-commits failed/])
    t.match(await detail('alpha'), { firstLook: true })
    noTokenAnywhere(t, app, config.gitCacheDir, repo.url)
    await app.close()
    repo.writeFile('README.md', 'docs 5\n')
    repo.commitAndPush('docs 5')
    const restarted = await build(t, config)
    await startApp(restarted)
    t.same(restarted.desiredState.lastOutcome()?.warnings, [])
    const afterRestart = await detailOf(restarted)('alpha')
    t.match(
      afterRestart,
      { changedRevision: alphaTo3, changedSubject: 'alpha to 3' },
      'after a restart',
    )
    t.notOk(afterRestart.firstLook)
    noTokenAnywhere(t, restarted, config.gitCacheDir, repo.url)
  },
)

t.test(
  'a server that allows the blob filter: a partial history, no token in its config',
  async (t) => {
    const repo = createFixtureRepo(server, { stacks: 0, deployDir: 'stacks' })
    git(repo.bareDir, 'config', 'uploadpack.allowFilter', 'true')
    repo.writeStack('alpha', compose('1'))
    const added = repo.commitAndPush('add alpha')
    repo.writeFile('README.md', 'docs\n')
    repo.commitAndPush('docs')
    const config = configFor(server, repo.url, { GIT_DEPLOY_DIR: 'stacks' })
    const app = await build(t, config)
    await startApp(app)
    t.same(app.desiredState.lastOutcome()?.warnings, [])
    t.match(await detailOf(app)('alpha'), { changedRevision: added, changedSubject: 'add alpha' })
    const historyConfig = readFileSync(
      join(historyDirOf(config.gitCacheDir, repo.url), 'config'),
      'utf8',
    )
    t.match(historyConfig, /promisor = true/, 'blobless: a partial clone')
    noTokenAnywhere(t, app, config.gitCacheDir, repo.url)
  },
)

t.test(
  'a damaged or deleted history repository is rebuilt; the mirror is left alone',
  async (t) => {
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeStack('alpha', compose('1'))
    repo.commitAndPush('add alpha')
    const config = configFor(server, repo.url)
    const historyDir = historyDirOf(config.gitCacheDir, repo.url)
    const mirrorDir = mirrorDirOf(config.gitCacheDir, repo.url)
    let app = await build(t, config)
    await startApp(app)
    t.ok(existsSync(join(historyDir, 'docker-cd-url')))

    const damages: [string, () => void][] = [
      [
        'packs emptied',
        () => {
          for (const pack of readdirSync(join(historyDir, 'objects/pack')))
            writeFileSync(join(historyDir, 'objects/pack', pack), 'garbage')
        },
      ],
      ['HEAD and refs gone', () => rmSync(join(historyDir, 'HEAD'), { force: true })],
      [
        'shallow file lies',
        () => writeFileSync(join(historyDir, 'shallow'), `${'e'.repeat(40)}\n`),
      ],
      ['deleted', () => rmSync(historyDir, { recursive: true, force: true })],
    ]
    let round = 0
    for (const [what, damage] of damages) {
      damage()
      // A canary in the mirror: a rebuild of the mirror removes it.
      writeFileSync(join(mirrorDir, 'canary'), 'x')
      await app.close()
      app = await build(t, config)
      await startApp(app)
      round++
      repo.writeStack('alpha', compose(`r${round}`))
      const changed = repo.commit(`alpha round ${round}`)
      repo.writeFile('README.md', `docs ${round}\n`)
      repo.commitAndPush(`docs ${round}`)
      let outcome = await app.desiredState.refresh('manual').done
      t.equal(outcome.status, 'completed', `${what}: completed`)
      // At most one refresh may pay for the damage; the next one finds it.
      if (outcome.warnings.length) {
        round++
        repo.writeStack('alpha', compose(`r${round}`))
        const again = repo.commit(`alpha round ${round}`)
        repo.writeFile('README.md', `docs ${round}\n`)
        repo.commitAndPush(`docs ${round}`)
        outcome = await app.desiredState.refresh('manual').done
        t.same(outcome.warnings, [], `${what}: rebuilt by the next refresh`)
        t.match(await detailOf(app)('alpha'), { changedRevision: again }, what)
      } else t.match(await detailOf(app)('alpha'), { changedRevision: changed }, what)
      // One more refresh: the mirror is still the same directory (not rebuilt for the history's sake).
      repo.writeFile('README.md', `more docs ${round}\n`)
      repo.commitAndPush(`more docs ${round}`)
      await app.desiredState.refresh('manual').done
      t.ok(existsSync(join(mirrorDir, 'canary')), `${what}: the mirror was not rebuilt`)
    }
    noTokenAnywhere(t, app, config.gitCacheDir, repo.url)
  },
)

t.test('another repository on the same cache dir: histories never mix', async (t) => {
  const one = createFixtureRepo(server, { stacks: 0 })
  one.writeStack('alpha', compose('1'))
  one.commitAndPush('alpha in one')
  one.writeFile('README.md', 'x\n')
  one.commitAndPush('docs in one')
  const config = configFor(server, one.url)
  let app = await build(t, config)
  await startApp(app)
  await app.close()
  const two = createFixtureRepo(server, { stacks: 0 })
  two.writeStack('alpha', compose('1')) // the same tree as in one
  const inTwo = two.commitAndPush('alpha in two')
  two.writeFile('README.md', 'y\n')
  two.commitAndPush('docs in two')
  app = await build(t, { ...config, gitRepoUrl: two.url })
  await startApp(app)
  t.match(await detailOf(app)('alpha'), { changedRevision: inTwo, changedSubject: 'alpha in two' })
})

t.test(
  'a stack back to the tree it had at startup, in several commits: its own commit',
  async (t) => {
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeStack('alpha', compose('1'))
    repo.commitAndPush('add alpha')
    const config = configFor(server, repo.url)
    let app = await build(t, config)
    await startApp(app)
    await app.close()
    // A restart: alpha's stamp (tree 1) is remembered from the stack history file.
    app = await build(t, config)
    await startApp(app)
    repo.writeStack('alpha', compose('2'))
    repo.commitAndPush('alpha to 2')
    await app.desiredState.refresh('manual').done
    repo.writeStack('alpha', compose('1'))
    const back = repo.commit('alpha back to 1')
    repo.writeFile('README.md', 'docs\n')
    const head = repo.commitAndPush('docs')
    const outcome = await app.desiredState.refresh('manual').done
    t.ok(
      outcome.steps.includes('find-stack-commits'),
      'a tree new since the last refresh: looked up',
    )
    t.match(await detailOf(app)('alpha'), {
      changedRevision: back,
      changedSubject: 'alpha back to 1',
    })
    t.not(back, head)
  },
)
