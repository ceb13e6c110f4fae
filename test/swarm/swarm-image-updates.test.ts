import t from 'tap'
import { SWARM_IMAGE_APPLY_REFUSED } from '../../services/host/index.js'
import { deployedApp, waitFor } from '../helpers/build.js'
import { docker } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { pushImage, registryUnavailable, startRegistry } from '../helpers/registry.js'
import { HOST_NETWORK, startSwarm, swarmUnavailable } from '../helpers/swarm.js'

// Image updates on a real two-node swarm (docs/swarm.md), with a
// real registry on loopback that both nodes pull from: IMAGE_UPDATES=apply
// is said at startup to act as detect; a tag pushed again is reported —
// the stack out of sync, the moved digest in words, why it is not applied,
// a note — and not deployed (the service still pins the digest it was
// deployed with, one run in the history); a manual sync redeploys the
// stack and `--resolve-image always` pins the tag's new digest.

const unavailable = registryUnavailable() ?? swarmUnavailable()
// Two private engines forming a swarm take seconds alone and much longer
// on a loaded two-core machine: this file gets more than the usual 120 s.
t.setTimeout(360_000)
const pid = process.pid
const API_TOKEN = `swarm-images-token-${pid}-0123456789`

type Detail = {
  status: string
  sync: { reason?: string; plan?: { service: string; action: string }[]; notes?: string[] }
  history?: { trigger: string; result: string }[]
}

t.test(
  'a moved tag on Swarm is reported, not applied',
  { skip: unavailable ?? false },
  async (t) => {
    const registry = await startRegistry()
    t.teardown(() => registry.close())
    const reference = `${registry.host}/bn-web-${pid}:stable`
    /** The images pushed from this engine (the first one is left untagged by the second). */
    const pushed: string[] = []
    const push = async (variant: string) => {
      const digest = await pushImage(reference, variant)
      pushed.push(docker('image', 'inspect', '--format', '{{.Id}}', reference))
      return digest
    }
    // Without -f: an image another test tagged as well (a build of the same lines) stays.
    t.teardown(() => {
      for (const image of [reference, ...pushed])
        try {
          docker('image', 'rm', image)
        } catch {
          // gone already, or another tag names it
        }
    })
    const first = await push('one')
    const swarm = await startSwarm()
    t.teardown(() => swarm.close())
    const server = await startGitServer({ token: `tok-swarm-images-${pid}` })
    t.teardown(() => server.close())
    const stack = `bn-img-${pid}`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(
        `${stack}/compose.yaml`,
        `services:\n  web:\n    image: ${reference}\n    command: ["sleep", "3600"]\n    stop_grace_period: 1s\n    networks: [hostnet]\n    deploy:\n      replicas: 2\n${HOST_NETWORK}`,
      )
      .commitAndPush('a service from the registry')
    const { app, headers, detail, deployed } = await deployedApp(t, server, repo.url, stack, {
      SYNC_TARGET: 'swarm',
      SYNC_TIMEOUT: '90s',
      SWARM_RESOLVE_IMAGE: 'always',
      IMAGE_UPDATES: 'apply',
      API_TOKEN,
      DOCKER_HOST: `unix://${swarm.manager.socket}`,
      DOCKER_SOCKET: swarm.manager.socket,
    })
    t.ok(
      app.logs.find(
        (line) =>
          line.msg ===
          `IMAGE_UPDATES=apply: moved image tags are reported, not deployed (${SWARM_IMAGE_APPLY_REFUSED})`,
      ),
      'one line at startup says apply acts as detect',
    )
    t.equal(deployed.status, 'synced')
    const pinned = () =>
      swarm.manager.docker(
        'service',
        'inspect',
        '--format',
        '{{.Spec.TaskTemplate.ContainerSpec.Image}}',
        `${stack}_web`,
      )
    t.equal(pinned(), `${reference}@${first}`, 'the deploy pinned the tag’s digest')

    const second = await push('two')
    t.not(second, first)
    const checked = await app.inject({ method: 'POST', url: '/api/images/check', headers })
    t.same(checked.json(), {
      stacks: [
        {
          path: stack,
          moved: [{ service: 'web', reference, running: first, current: second }],
          problems: [],
        },
      ],
    })
    const short = (digest: string) => digest.slice(0, 19)
    const words = `image of service web: ${reference} moved to ${short(second)} in the registry (it runs ${short(first)})`
    // The reconciler's decision is the stack's reason: waiting, with why.
    const reported = (await waitFor(async () => {
      const d = (await detail()) as Detail
      return d.status === 'out_of_sync' && d.sync.reason?.startsWith('image updates')
        ? d
        : undefined
    }, 'the moved tag reported')) as Detail
    t.equal(
      reported.sync.reason,
      `image updates are reported, not applied (${SWARM_IMAGE_APPLY_REFUSED}): ${words}`,
    )
    t.same(
      reported.sync.plan?.map((entry) => [entry.service, entry.action]),
      [
        ['web', 'update'],
        ['web', 'update'],
      ],
      'an update entry per task',
    )
    t.same(reported.sync.notes, [`image updates: ${SWARM_IMAGE_APPLY_REFUSED}`])
    t.same(
      reported.history?.map((run) => run.trigger),
      ['git'],
      'no image run',
    )
    t.equal(pinned(), `${reference}@${first}`, 'the swarm still runs the digest it was given')

    // A manual sync deploys the stack again: the CLI resolves the tag anew.
    const synced = await app.inject({
      method: 'POST',
      url: `/api/stacks/${stack}/sync?wait=true`,
      headers,
    })
    t.match(synced.json(), { status: 'completed' })
    t.equal(pinned(), `${reference}@${second}`, 'the next deploy pins the new digest')
    await waitFor(
      async () => ((await detail()) as Detail).status === 'synced',
      'the stack synced on the new digest',
      60_000,
    )
    const history = ((await detail()) as Detail).history
    t.same(
      history?.map((run) => [run.trigger, run.result]),
      [
        ['manual', 'completed'],
        ['git', 'completed'],
      ],
    )
  },
)
