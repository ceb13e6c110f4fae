import t from 'tap'
import { build, configFor, finishedRun, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// A sidecar that shares the network of a service (`network_mode:
// service:vpn`) whose mounted file changed: recreating the service alone
// (`up --no-deps --force-recreate vpn`) leaves the sidecar in the removed
// container's network namespace, cut off, and Compose then plans to
// recreate it — the deploy completed, the stack drifted right after. The
// deploy converges again after a renewal, as Compose does after `up`.

const unavailable = hostUnavailable()
const API_TOKEN = 'api-token-shared-net-8a41'
const auth = { authorization: `Bearer ${API_TOKEN}` }

type Detail = {
  status: string
  treeHash: string
  reason?: string
  sync?: {
    deployedTreeHash?: string
    checkedAt?: string
    plan?: { service: string; action: string }[]
  }
  history?: {
    toTree: string
    finishedAt: string
    trigger: string
    result: string
    fileChanges?: { service: string; action: string; files: string[] }[]
  }[]
}

t.test('a sidecar in a renewed service’s network', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-shared-net' })
  t.teardown(() => server.close())
  const stack = `mn-${process.pid}`
  t.teardown(() => removeProject(stack))
  const service = (extra: string) =>
    `    image: "${image}"\n    command: ["sleep", "3600"]\n    stop_grace_period: 1s\n${extra}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(
      `${stack}/compose.yaml`,
      `services:\n  vpn:\n${service('    volumes:\n      - ./vpn.conf:/vpn.conf:ro\n')}  side:\n${service('    network_mode: "service:vpn"\n')}`,
    )
    .writeFile(`${stack}/vpn.conf`, 'v1\n')
  repo.commitAndPush('a service and its sidecar')

  const config = configFor(server, repo.url, {
    SYNC_MODE: 'apply',
    STACKS_DIR: tempDir('docker-cd-stacks-'),
    SYNC_TIMEOUT: '15s',
    SYNC_SELF_HEAL: 'false',
    API_TOKEN,
  })
  const app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
  const detail = async () =>
    (await app.inject({ url: `/api/stacks/${stack}`, headers: auth })).json() as Detail
  const finished = () => finishedRun(detail, stack)
  await startApp(app)
  t.equal((await finished()).status, 'synced')
  const vpnBefore = docker('inspect', '-f', '{{.Id}}', `${stack}-vpn-1`)

  repo.writeFile(`${stack}/vpn.conf`, 'v2\n')
  repo.commitAndPush('a new mounted file')
  await app.desiredState.refresh('manual').done
  const done = await finished()
  t.match(done.history?.[0], {
    result: 'completed',
    fileChanges: [{ service: 'vpn', action: 'recreate', files: ['./vpn.conf'] }],
  })
  const vpn = docker('inspect', '-f', '{{.Id}}', `${stack}-vpn-1`)
  t.not(vpn, vpnBefore, 'vpn was recreated')
  t.equal(
    docker('inspect', '-f', '{{.HostConfig.NetworkMode}}', `${stack}-side-1`),
    `container:${vpn}`,
    'the sidecar shares the network of the new vpn container',
  )
  // The check after the deploy: nothing left to do.
  const finishedAt = done.history?.[0]?.finishedAt ?? ''
  const after = await waitFor(async () => {
    const d = await detail()
    return (d.sync?.checkedAt ?? '') > finishedAt && d.status !== 'syncing' ? d : undefined
  }, 'a check after the deploy')
  t.same(after.sync?.plan, [], 'Compose would change nothing after the deploy')
  t.equal(after.status, 'synced')
})
