import t from 'tap'
import { build, configFor, finishedRun, startApp } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 31, "a wait that covers deploys", on the real engine: a script
// pushes and calls POST /api/refresh?wait=sync once; the answer comes when
// the deploys that refresh caused have finished, with each changed stack's
// outcome — never the old state read as `synced`. A stack the commit did not
// touch is not in it; a failing change answers `failed` with the rollback.

const unavailable = hostUnavailable()
const pid = process.pid

t.test(
  '?wait=sync answers once the deploys it caused are over, with each outcome',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: `tok-wait-sync-${pid}` })
    t.teardown(() => server.close())
    const [web, other] = [`waitweb-${pid}`, `waitother-${pid}`]
    for (const stack of [web, other]) t.teardown(() => removeProject(stack))
    const compose = (value: string, health = '') =>
      `services:\n  app:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    environment:\n      VALUE: "${value}"\n${health}`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(`${web}/compose.yaml`, compose('one'))
      .writeFile(`${other}/compose.yaml`, compose('one'))
      .commitAndPush('two stacks')
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        STACKS_DIR: tempDir('docker-cd-stacks-'),
        SYNC_TIMEOUT: '20s',
      }),
      { maxEventLoopDelayMs: 60_000 },
    )
    await startApp(app)
    for (const stack of [web, other])
      await finishedRun(async () => (await app.inject(`/api/stacks/${stack}`)).json(), stack)

    repo.writeFile(`${web}/compose.yaml`, compose('two')).commitAndPush('change web')
    const res = await app.inject({ method: 'POST', url: '/api/refresh?wait=sync' })
    t.equal(res.statusCode, 200)
    const body = res.json()
    const tree = app.desiredState.current().stacks.find((s) => s.path === web)?.treeOid
    t.match(body, {
      status: 'completed',
      changes: { changed: [web] },
      stacks: [
        {
          path: web,
          status: 'synced',
          run: { result: 'completed', trigger: 'git', revision: body.revision, toTree: tree },
        },
      ],
    })
    t.equal(body.stacks.length, 1, 'the stack the commit did not touch is not in it')

    repo
      .writeFile(
        `${web}/compose.yaml`,
        compose(
          'three',
          '    healthcheck:\n      test: ["CMD", "false"]\n      interval: 1s\n      retries: 1\n',
        ),
      )
      .commitAndPush('break web')
    const failed = (await app.inject({ method: 'POST', url: '/api/refresh?wait=sync' })).json()
    t.match(failed.stacks, [
      { path: web, status: 'failed', run: { result: 'failed', rolledBackTo: { treeHash: tree } } },
    ])

    const plain = (await app.inject({ method: 'POST', url: '/api/refresh?wait=true' })).json()
    t.notOk('stacks' in plain, '?wait=true answers for the refresh alone, as before')
    t.equal((await app.inject({ method: 'POST', url: '/api/refresh?wait=later' })).statusCode, 400)
  },
)
