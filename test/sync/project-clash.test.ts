import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Two stacks whose names Compose turns into one project name (`dup-N` and
// `DUP-N`, new in one commit): both fail with the reason before anything is
// queued, neither is deployed, and the other stacks go on.

const unavailable = hostUnavailable()

t.test(
  'SYNC_MODE=apply: stacks that share a project name both fail, none deploys',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: 'tok-clash-4d' })
    t.teardown(() => server.close())
    const pid = process.pid
    const project = `dup-${pid}`
    const keep = `keep-${pid}`
    t.teardown(() => removeProject(project))
    t.teardown(() => removeProject(keep))
    const stackFile = `services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeFile(`${keep}/compose.yaml`, stackFile).commitAndPush('one stack')
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
    const stackOf = async (name: string) =>
      (await app.inject(`/api/stacks/${encodeURIComponent(name)}`)).json()
    await waitFor(async () => (await stackOf(keep)).status === 'synced', `${keep} deployed`)

    repo
      .writeFile(`dup-${pid}/compose.yaml`, stackFile)
      .writeFile(`DUP-${pid}/compose.yaml`, stackFile)
      .writeFile(`${keep}/compose.yaml`, `${stackFile}    environment: {STEP: "2"}\n`)
      .commitAndPush('two stacks, one project name')
    await app.desiredState.refresh('manual').done
    await app.host?.idle()
    await app.sync?.idle()
    for (const [stack, other] of [
      [`dup-${pid}`, `DUP-${pid}`],
      [`DUP-${pid}`, `dup-${pid}`],
    ] as const) {
      const detail = await stackOf(stack)
      t.equal(detail.status, 'failed', `${stack} failed`)
      t.match(detail.sync.reason, `project name ${project} is also the project of stack ${other}`)
    }
    t.equal(
      docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`),
      '',
      'no container of the shared project exists',
    )
    await waitFor(
      async () =>
        docker('inspect', '-f', '{{json .Config.Env}}', `${keep}-app-1`).includes('STEP=2'),
      'the other stack deployed its change',
    )
    t.equal((await stackOf(keep)).status, 'synced')
  },
)
