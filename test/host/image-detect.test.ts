import t from 'tap'
import { build, configFor, deployedApp, waitFor } from '../helpers/build.js'
import { docker, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { pushImage, registryUnavailable, startRegistry } from '../helpers/registry.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 29, detect, on the real engine with a real registry (Debian's
// docker-registry on loopback): a stack deployed by docker-cd from the
// registry; a new image pushed under the same tag is reported — the stack
// `out_of_sync`, an `update` entry with both digests, the reason in words —
// for the service whose policy is `detect` only (a service set `off` is not
// asked about); nothing is pulled or deployed (apply mode, the stack's
// history and container unchanged); a stopped registry is a reason on the
// stack, and the endpoint is behind the API token.

const unavailable = registryUnavailable()
const pid = process.pid
const API_TOKEN = `image-detect-token-${pid}-0123456789`

t.test(
  'a moved tag is reported for the services that watch it, and nothing is deployed',
  { skip: unavailable ?? false },
  async (t) => {
    const registry = await startRegistry()
    t.teardown(() => registry.close())
    const server = await startGitServer({ token: `tok-image-detect-${pid}` })
    t.teardown(() => server.close())
    const app1 = `${registry.host}/app-${pid}:stable`
    const side = `${registry.host}/side-${pid}:1`
    const first = await pushImage(app1, 'one')
    await pushImage(side, 'side-one')
    for (const reference of [app1, side]) docker('image', 'rm', reference) // the deploy pulls them
    t.teardown(() => {
      for (const reference of [app1, side])
        try {
          docker('image', 'rm', reference)
        } catch {
          // not there
        }
    })

    const stack = `imgdetect-${pid}`
    t.teardown(() => removeProject(stack))
    const service = (image: string) =>
      `    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(
        `${stack}/compose.yaml`,
        `x-docker-cd:\n  image_updates: detect\n  services:\n    side:\n      image_updates: "off"\nservices:\n  app:\n${service(app1)}  side:\n${service(side)}`,
      )
      .commitAndPush('two services from the registry')
    const {
      app,
      headers: auth,
      detail,
      deployed,
    } = await deployedApp(t, server, repo.url, stack, {
      API_TOKEN,
    })
    t.equal(deployed.status, 'synced')
    const containerOf = (d: { containers: { service: string; id?: string; name: string }[] }) =>
      d.containers.find((c) => c.service === 'app')?.name as string
    const appContainer = docker('inspect', '--format', '{{.Id}}', containerOf(deployed))
    const check = async () => {
      const res = await app.inject({ method: 'POST', url: '/api/images/check', headers: auth })
      t.equal(res.statusCode, 200)
      return res.json() as { stacks: { path: string; moved: unknown[]; problems: string[] }[] }
    }
    t.same(await check(), { stacks: [] }, 'nothing moved yet')

    // Both tags move in the registry; only `app` watches its own. The pushes
    // go through this engine, so its local tags are put back on the images
    // the containers run: the host has not pulled anything.
    const runningIds = [app1, side].map((reference) =>
      docker('image', 'inspect', '--format', '{{.Id}}', reference),
    )
    const second = await pushImage(app1, 'two')
    await pushImage(side, 'side-two')
    const pushedIds = [app1, side].map((reference) =>
      docker('image', 'inspect', '--format', '{{.Id}}', reference),
    )
    for (const [i, reference] of [app1, side].entries())
      docker('tag', runningIds[i] as string, reference)
    // The images pushed second are left untagged here: removed with the test.
    t.teardown(() => {
      for (const id of pushedIds)
        try {
          docker('image', 'rm', '-f', id)
        } catch {
          // gone already
        }
    })
    t.not(second, first)
    const found = await check()
    t.same(found.stacks, [
      {
        path: stack,
        moved: [{ service: 'app', reference: app1, running: first, current: second }],
        problems: [],
      },
    ])
    const reported = await waitFor(async () => {
      const d = await detail()
      return d.status === 'out_of_sync' ? d : undefined
    }, 'the stack out of sync for its moved tag')
    const short = (digest: string) => digest.slice(0, 19)
    t.equal(
      reported.sync.reason,
      `image updates are reported, not applied (image_updates: detect; a manual sync pulls and deploys them): image of service app: ${app1} moved to ${short(second)} in the registry (it runs ${short(first)})`,
    )
    t.match(reported.sync.plan, [
      {
        service: 'app',
        action: 'update',
        image: { reference: app1, running: first, current: second },
      },
    ])
    t.equal(reported.sync.plan.length, 1, 'the service set off is not reported')
    // The stack page's plan says it too (logged in with the token, as a browser would be).
    const login = await app.inject({
      method: 'POST',
      url: '/ui/login',
      payload: `token=${API_TOKEN}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    const session = String(login.headers['set-cookie']).split(';')[0] as string
    const page = (await app.inject({ url: `/ui/stacks/${stack}`, headers: { cookie: session } }))
      .body
    t.match(page, `image of service app: ${app1} moved to ${short(second)} in the registry`)

    // Nothing is pulled or deployed: the same container, the same history.
    await app.sync?.idle()
    const after = await detail()
    t.equal(after.history.length, deployed.history.length, 'no sync run')
    t.equal(docker('inspect', '--format', '{{.Id}}', containerOf(after)), appContainer)
    t.equal(
      docker('image', 'inspect', '--format', '{{.Id}}', app1),
      runningIds[0],
      'the new image was not pulled',
    )

    // The registry stops: a reason on the stack, no crash, no deploy; the
    // tag is still known to have moved (a failed ask does not take it back).
    await registry.stop()
    const failing = await check()
    t.match(failing.stacks, [
      {
        path: stack,
        moved: [{ service: 'app', reference: app1, running: first, current: second }],
        problems: [/^image check failed for service app: .*cannot be reached \(ECONNREFUSED\)$/],
      },
    ])
    const unreachable = await waitFor(async () => {
      const d = await detail()
      return /image check failed/.test(d.sync?.reason ?? '') ? d : undefined
    }, 'the stack saying the check failed')
    t.equal(unreachable.status, 'out_of_sync', 'still out of sync: the tag moved')
    t.equal((await detail()).history.length, deployed.history.length)

    // Behind the API token.
    const open = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'detect',
        STACKS_DIR: tempDir('docker-cd-stacks-'),
      }),
    )
    const refused = await open.inject({ method: 'POST', url: '/api/images/check' })
    t.equal(refused.statusCode, 403)
    t.match(refused.json(), { message: /needs API_TOKEN/ })
  },
)

t.test(
  'an image known under two digests of its repository (a tag and a manifest list over it) is not a moved tag',
  { skip: unavailable ?? false },
  async (t) => {
    const registry = await startRegistry()
    t.teardown(() => registry.close())
    const server = await startGitServer({ token: `tok-image-two-${pid}` })
    t.teardown(() => server.close())
    // `:v1` is the image's own manifest; `:multi` a manifest list over it
    // (as a publisher's `:1` over `:1-amd64`). Pulling both gives the one
    // image two RepoDigests in the repository; the tag the stack runs is
    // the one whose digest the engine lists second.
    const v1 = `${registry.host}/two-${pid}:v1`
    const multi = `${registry.host}/two-${pid}:multi`
    const own = await pushImage(v1, `two-digests-${pid}`)
    const cli = tempDir('docker-cd-manifest-')
    docker('--config', cli, 'manifest', 'create', '--insecure', multi, v1)
    const list = docker('--config', cli, 'manifest', 'push', '--insecure', multi).trim()
    docker('pull', '-q', multi)
    t.teardown(() => {
      for (const reference of [v1, multi])
        try {
          docker('image', 'rm', reference)
        } catch {
          // not there
        }
    })
    const repoDigests = JSON.parse(
      docker('image', 'inspect', '--format', '{{json .RepoDigests}}', v1),
    ).filter((entry: string) => entry.startsWith(`${registry.host}/two-${pid}@`)) as string[]
    t.equal(repoDigests.length, 2, 'two digests in one repository')
    const image = repoDigests[0]?.endsWith(own) ? multi : v1
    t.not(own, list)

    const stack = `imgtwo-${pid}`
    t.teardown(() => removeProject(stack))
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(
        `${stack}/compose.yaml`,
        `x-docker-cd:\n  image_updates: detect\nservices:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n`,
      )
      .commitAndPush('a stack on one of the two tags')
    const {
      app,
      headers: auth,
      detail,
      deployed,
    } = await deployedApp(t, server, repo.url, stack, {
      API_TOKEN,
    })
    t.equal(deployed.status, 'synced')
    const res = await app.inject({ method: 'POST', url: '/api/images/check', headers: auth })
    t.same(res.json(), { stacks: [] }, 'the tag names an image the container runs')
    t.equal((await detail()).status, 'synced')
  },
)
