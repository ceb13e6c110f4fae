import t from 'tap'
import { deployedApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage } from '../helpers/docker.js'
import { startGitServer } from '../helpers/git-server.js'
import { applyStackRepo, imagesRemovedAtEnd } from '../helpers/image-stack.js'
import {
  configWith,
  moveTag,
  pushImage,
  registryUnavailable,
  startRegistry,
} from '../helpers/registry.js'

// Issue 29, apply, on the real engine with a real registry (Debian's
// docker-registry on loopback) behind basic auth, the credentials in a
// Docker config file (DOCKER_CONFIG) for both the checks and Compose's
// pulls. The registry's tag moves (its API puts another manifest under
// it, as a publisher's push does; the engine's own tags stay):
// - a good image: pulled and deployed for the service using it alone (the
//   other service's container untouched), trigger `image`, the record and
//   the stack view name reference, image id and digest; the replaced image
//   leaves the host;
// - an image whose health check fails: the service is back on the previous
//   image (by id), the stack `failed` with `rolledBackTo` naming the
//   previous digest, and over the next polls nothing is pulled (no manifest
//   GET) or deployed (no run, no `up`);
// - the tag moves again: taken, and the failed digest forgotten.
// The password appears nowhere the service shows.

const unavailable = registryUnavailable()
const pid = process.pid
const API_TOKEN = `image-apply-token-${pid}-0123456789`

t.test(
  'apply: a moved tag is deployed for its service alone, a failing one rolls back and is not tried again',
  { skip: unavailable ?? false },
  async (t) => {
    const credentials = { username: `cd-${pid}`, password: `apply-pw-${pid}-s3cret` }
    const registry = await startRegistry({ kind: 'basic', ...credentials })
    t.teardown(() => registry.close())
    const dockerConfig = configWith(registry.host, credentials.username, credentials.password)
    const server = await startGitServer({ token: `tok-image-apply-${pid}` })
    t.teardown(() => server.close())
    const repository = `apply-${pid}`
    const tag = (name: string) => `${registry.host}/${repository}:${name}`
    const reference = tag('stable')
    const first = await pushImage(reference, `one-${pid}`, dockerConfig)
    const pushed = imagesRemovedAtEnd(t, [reference])
    docker('image', 'rm', reference) // the first deploy pulls it, with the config's credentials

    const stack = `imgapply-${pid}`
    const repo = applyStackRepo(t, server, stack, reference)
    const {
      app,
      headers: auth,
      detail,
      deployed,
    } = await deployedApp(t, server, repo.url, stack, {
      SYNC_TIMEOUT: '60s',
      IMAGE_POLL_INTERVAL: '1s',
      DOCKER_CONFIG: dockerConfig,
      API_TOKEN,
    })
    t.equal(deployed.status, 'synced', deployed.reason)
    const containerOf = (service: string) =>
      docker(
        'ps',
        '-q',
        '--no-trunc',
        '--filter',
        `label=com.docker.compose.project=${stack}`,
        '--filter',
        `label=com.docker.compose.service=${service}`,
      )
    const imageOf = (container: string) => docker('inspect', '--format', '{{.Image}}', container)
    const idOf = (name: string) => docker('image', 'inspect', '--format', '{{.Id}}', name)
    const sideContainer = containerOf('side')
    const firstContainer = containerOf('app')
    const firstId = imageOf(firstContainer)
    t.match(deployed.sync.deployedImages, [
      { service: 'app', reference, imageId: firstId, digest: first },
      { service: 'side', reference: ensureTestImage() },
    ])
    const runsOf = (d: { history: { trigger: string }[] }, trigger: string) =>
      d.history.filter((run) => run.trigger === trigger)
    const metric = async (line: string) => {
      const text = (await app.inject({ url: '/metrics', headers: auth })).body
      return Number(new RegExp(`^${line} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
    }

    // A good image under the tag: pulled and deployed for `app` alone.
    pushed.push(tag('two'))
    await pushImage(tag('two'), `two-${pid}`, dockerConfig)
    const second = await moveTag(registry, repository, 'two', 'stable', credentials)
    const updated = await waitFor(
      async () => {
        const d = await detail()
        return runsOf(d, 'image').length === 1 && d.status !== 'syncing' ? d : undefined
      },
      'the image update',
      120_000,
    )
    const run = updated.history[0]
    t.equal(run.trigger, 'image')
    t.equal(run.result, 'completed', run.reason)
    t.same(run.servicesChanged, ['app'])
    t.same(run.imageUpdates, [{ service: 'app', reference, running: first, current: second }])
    t.match(
      run.reason,
      `image tag moved: app: ${reference} ${first.slice(0, 19)} → ${second.slice(0, 19)}`,
    )
    t.equal(updated.status, 'synced', updated.sync.reason)
    const secondContainer = containerOf('app')
    t.not(secondContainer, firstContainer, 'app was recreated')
    t.equal(containerOf('side'), sideContainer, 'side was not touched')
    const secondId = imageOf(secondContainer)
    t.equal(secondId, idOf(tag('two')), 'app runs the image the tag names now')
    t.match(updated.sync.deployedImages, [
      { service: 'app', reference, imageId: secondId, digest: second },
    ])
    t.match(
      updated.containers.find((c: { service: string }) => c.service === 'app'),
      { imageId: secondId, digest: second },
    )
    t.throws(() => idOf(firstId), 'the replaced image left the host')

    // An image whose health check fails: back on the previous image, by id.
    pushed.push(tag('bad'))
    await pushImage(
      tag('bad'),
      `bad-${pid}`,
      dockerConfig,
      'HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD false\n',
    )
    const bad = await moveTag(registry, repository, 'bad', 'stable', credentials)
    const failed = await waitFor(
      async () => {
        const d = await detail()
        return runsOf(d, 'image').length === 2 && d.status === 'failed' ? d : undefined
      },
      'the failed image update',
      120_000,
    )
    const failedRun = failed.history[0]
    t.comment(
      `measured: image update ${run.durationMs} ms; failed update with its rollback ${failedRun.durationMs} ms`,
    )
    t.equal(failedRun.result, 'failed')
    t.match(failedRun.rolledBackTo, {
      treeHash: deployed.treeHash,
      images: [{ service: 'app', reference, imageId: secondId, digest: second }],
    })
    t.same(failed.sync.failedImages, [{ service: 'app', reference, digest: bad }])
    t.match(
      failed.reason,
      `image update of service app to ${bad.slice(0, 19)} failed: `,
      'the reason names the digest that failed',
    )
    t.match(failed.reason, `rolled back: app back on ${second.slice(0, 19)}`)
    const rolledBack = containerOf('app')
    t.equal(imageOf(rolledBack), secondId, 'app runs the previous image again')
    t.equal(idOf(reference), secondId, 'the tag names the previous image on the host again')
    t.equal(containerOf('side'), sideContainer)

    // Three more polls ask the registry; none pulls, none deploys.
    const heads = () =>
      registry.manifestRequests().filter((r) => r === `HEAD /v2/${repository}/manifests/stable`)
        .length
    const gets = () =>
      registry.manifestRequests().filter((r) => r.startsWith(`GET /v2/${repository}/manifests/`))
        .length
    const [headsBefore, getsBefore, upsBefore, pullsBefore] = [
      heads(),
      gets(),
      await metric('docker_cd_compose_runs_total\\{asked="up"\\}'),
      await metric('docker_cd_compose_runs_total\\{asked="pull"\\}'),
    ]
    await waitFor(() => heads() >= headsBefore + 3, 'three more image checks', 60_000)
    await app.sync?.idle()
    const still = await detail()
    t.equal(gets(), getsBefore, 'no pull over the polls')
    t.equal(await metric('docker_cd_compose_runs_total\\{asked="up"\\}'), upsBefore, 'no up')
    t.equal(await metric('docker_cd_compose_runs_total\\{asked="pull"\\}'), pullsBefore)
    t.equal(still.history.length, failed.history.length, 'no run')
    t.equal(still.status, 'failed')
    t.match(still.reason, /tried again when the tag moves or on a manual sync$/)
    t.equal(containerOf('app'), rolledBack)

    // The tag moves again: taken, and the failed digest is forgotten.
    pushed.push(tag('three'))
    await pushImage(tag('three'), `three-${pid}`, dockerConfig)
    const third = await moveTag(registry, repository, 'three', 'stable', credentials)
    const again = await waitFor(
      async () => {
        const d = await detail()
        return runsOf(d, 'image').length === 3 && d.status !== 'syncing' ? d : undefined
      },
      'the next image update',
      120_000,
    )
    t.equal(again.history[0].result, 'completed', again.history[0].reason)
    t.equal(again.status, 'synced')
    t.notOk(again.sync.failedImages)
    t.match(again.sync.deployedImages, [{ service: 'app', digest: third }])
    t.equal(imageOf(containerOf('app')), idOf(tag('three')))

    // The password is nowhere the service shows.
    const shown = [
      JSON.stringify(await detail()),
      (await app.inject({ url: '/metrics', headers: auth })).body,
      (await app.inject({ url: '/api/status', headers: auth })).body,
    ].join('\n')
    t.notMatch(shown, credentials.password)
  },
)
