import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 24, item 5, on the real engine with Compose v2: failures that are
// the tree's own are not engine outages (an image no registry serves, an
// image reference the engine refuses: `failed`, not retried), and a deploy
// Compose calls done is not done while a service keeps exiting
// (`restart: always` with a command that exits at once: rolled back).

const unavailable = hostUnavailable()
const API_TOKEN = 'api-token-failures-41d0'
const auth = { authorization: `Bearer ${API_TOKEN}` }

type Run = { trigger: string; toTree: string; result: string; rolledBackTo?: { treeHash: string } }
type Detail = {
  status: string
  treeHash: string
  sync?: { reason?: string; deployedTreeHash?: string; error?: string }
  history?: Run[]
}

t.test('failures of the tree, on the real engine', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-failures' })
  t.teardown(() => server.close())
  const pid = process.pid
  const [unpullable, invalid, looping] = [`p-${pid}`, `r-${pid}`, `x-${pid}`]
  for (const project of [unpullable, invalid, looping]) t.teardown(() => removeProject(project))
  const service = (imageRef: string, extra = '') =>
    `services:\n  app:\n    image: "${imageRef}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n${extra}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(`${unpullable}/compose.yaml`, service('registry.invalid/docker-cd/nothing:1'))
    .writeFile(`${invalid}/compose.yaml`, service('Not/A:Valid:Reference'))
    .writeFile(`${looping}/compose.yaml`, service(image))
  repo.commitAndPush('three stacks')

  const config = configFor(server, repo.url, {
    SYNC_MODE: 'apply',
    STACKS_DIR: tempDir('docker-cd-stacks-'),
    SYNC_TIMEOUT: '20s',
    API_TOKEN,
  })
  // A short retry back-off: were a failure taken for an engine outage, its retry would come at once.
  const app = await build(t, config, {
    maxEventLoopDelayMs: 60_000,
    sync: { retryBackoff: { initialMs: 50, maxMs: 50 } },
  })
  const detail = async (name: string) =>
    (await app.inject({ url: `/api/stacks/${name}`, headers: auth })).json() as Detail
  /** The stack's first run has finished and its status is published. */
  const finished = (name: string, tree?: string) =>
    waitFor(
      async () => {
        const d = await detail(name)
        const latest = d.history?.[0]
        return latest && latest.toTree === (tree ?? d.treeHash) && d.status !== 'syncing'
          ? d
          : undefined
      },
      `a finished run of ${name}`,
      90_000,
    )
  await startApp(app)

  for (const [name, words] of [
    [unpullable, /no such host/],
    [invalid, /invalid reference format/],
  ] as const) {
    const d = await finished(name)
    t.equal(d.status, 'failed', `${name}: the tree's failure, not an engine outage`)
    t.match(d.sync?.reason, words, 'with the reason')
    t.notMatch(d.sync?.reason, /retried in/, 'not retried')
    t.match(d.history, [{ trigger: 'git', result: 'failed' }])
    t.notOk(
      d.history?.some((run) => run.trigger === 'retry'),
      'no retry run',
    )
  }

  // A service that exits at once under `restart: always`: Compose's `up --wait` returns 0.
  const good = await finished(looping)
  t.equal(good.status, 'synced')
  const goodTree = good.treeHash
  const goodId = docker('inspect', '-f', '{{.Id}}', `${looping}-app-1`)
  repo.writeFile(
    `${looping}/compose.yaml`,
    `services:\n  app:\n    image: "${image}"\n    command: ["sh", "-c", "exit 1"]\n    restart: always\n    network_mode: none\n    stop_grace_period: 1s\n`,
  )
  repo.commitAndPush('a service that exits at once')
  await app.desiredState.refresh('manual').done
  const badTree = app.desiredState.current().stacks.find((s) => s.path === looping)?.treeOid
  t.not(badTree, goodTree)
  const failed = await finished(looping, badTree)
  t.match(failed, {
    status: 'failed',
    sync: { deployedTreeHash: goodTree, error: /app-1 (exits and is restarted|is restarting)/ },
    history: [{ result: 'failed', rolledBackTo: { treeHash: goodTree } }],
  })
  t.equal(docker('inspect', '-f', '{{.State.Running}}', `${looping}-app-1`), 'true')
  t.equal(
    docker('inspect', '-f', '{{json .Config.Cmd}}', `${looping}-app-1`),
    '["sleep","3600"]',
    'the good version runs again',
  )
  t.not(docker('inspect', '-f', '{{.Id}}', `${looping}-app-1`), goodId, '(recreated)')
})
