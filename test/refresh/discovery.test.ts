import t from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { composeFor, createFixtureRepo, missingStack, sha256 } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// Stack discovery rules against real repositories over HTTPS.

const server = await startGitServer({ token: 'tok-discovery-81ac' })
t.teardown(() => server.close())

t.test('discovery rules', async (t) => {
  const repo = createFixtureRepo(server, { deployDir: 'stacks' })
  const binaryish = Buffer.from('services:\n  x:\n    image: "caf\u00e9"\r\n\u0000\n', 'utf8')
  repo
    .writeStack('plain', composeFor('plain'))
    .writeStack('yml', composeFor('yml'), 'compose.yml')
    .writeStack('legacy', composeFor('legacy-yml'), 'docker-compose.yml')
    .writeStack('legacy', composeFor('legacy-yaml'), 'docker-compose.yaml')
    .writeStack('both', composeFor('new'), 'compose.yaml')
    .writeStack('both', composeFor('old'), 'docker-compose.yml')
    .writeStack('bytes', binaryish)
    .writeFile('stacks/no-compose/README.md', '# nothing here\n')
    .writeFile('stacks/nested/deeper/compose.yaml', composeFor('deeper'))
    .writeFile('stacks/compose.yaml', composeFor('at-the-root'))
    .writeFile('compose.yaml', composeFor('repo-root'))
    .writeFile('outside/compose.yaml', composeFor('outside'))
    .symlink('stacks/linked-dir', 'plain')
    .writeFile('stacks/link-file/compose.yml', composeFor('real-yml'))
    .symlink('stacks/link-file/compose.yaml', '../plain/compose.yaml')
    .addSubmodule('stacks/submodule')
  repo.commitAndPush('discovery fixture')

  const app = await build(t, configFor(server, repo.url, { GIT_DEPLOY_DIR: 'stacks' }))
  await startApp(app)
  const stacks = app.desiredState
    .current()
    .stacks.map(({ path, composeFile, composeHash, status }) => ({
      path,
      composeFile,
      composeHash,
      status,
    }))
  t.same(stacks, [
    missingStack('both', 'compose.yaml', composeFor('new')),
    missingStack('bytes', 'compose.yaml', binaryish),
    missingStack('legacy', 'docker-compose.yml', composeFor('legacy-yml')),
    missingStack('link-file', 'compose.yml', composeFor('real-yml')),
    missingStack('plain', 'compose.yaml', composeFor('plain')),
    missingStack('yml', 'compose.yml', composeFor('yml')),
  ])
})

t.test('an empty deploy directory gives an empty cache and a successful start', async (t) => {
  const repo = createFixtureRepo(server)
  repo.writeFile('README.md', 'no stacks yet\n').commitAndPush()
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  t.match(app.desiredState.current(), { refreshStatus: 'completed', stacks: [] })
  t.ok(app.desiredState.isReady())
})

t.test('many stacks: sorted by path, hashes of the exact bytes', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 120, extraFilesPerStack: 2 })
  const app = await build(t, configFor(server, repo.url))
  await startApp(app)
  const { stacks } = app.desiredState.current()
  t.equal(stacks.length, 120)
  t.same(
    stacks.map((s) => s.path),
    [...stacks.map((s) => s.path)].sort(),
  )
  t.ok(stacks.every((s) => s.composeHash === sha256(composeFor(s.path))))
})
