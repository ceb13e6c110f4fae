import t from 'tap'
import { deployedApp, waitFor } from '../helpers/build.js'
import { startGitServer } from '../helpers/git-server.js'
import { applyStackRepo, imageApplyEnv, imagesRemovedAtEnd } from '../helpers/image-stack.js'
import {
  digestOf,
  pushImage,
  registryUnavailable,
  startOddRegistry,
  startRegistry,
} from '../helpers/registry.js'

// A registry that answers oddly, on the real engine: its manifest HEAD
// names a digest for the tag (docker-cd's question) that its pull never
// brings (the engine gets the image the service already runs) — two
// replicas out of step behind one name, a cache in front of it. The image
// update is tried once: the pull changes nothing, and the polls that follow
// keep naming the same digest, so no more runs, pulls or `up`s follow until
// the tag names another digest; the status says why.

const unavailable = registryUnavailable()
const pid = process.pid

t.test(
  'a tag whose HEAD names a digest its pull never brings: tried once, not in a loop',
  { skip: unavailable ?? false },
  async (t) => {
    const registry = await startRegistry()
    t.teardown(() => registry.close())
    // In front of the registry: docker-cd's HEADs of the tag are told `odd`.
    let odd = digestOf(`odd-${pid}`)
    const proxy = await startOddRegistry(registry, { headDigest: () => odd })
    t.teardown(() => proxy.close())
    const front = proxy.host
    const server = await startGitServer({ token: `tok-brk-odd-${pid}` })
    t.teardown(() => server.close())
    const repository = `brk-${pid}-odd`
    const reference = `${front}/${repository}:stable`
    imagesRemovedAtEnd(t, [reference])
    await pushImage(reference, `one-${pid}`)
    const stack = `brk-${pid}-odd`
    const repo = applyStackRepo(t, server, stack, reference)
    const { app, detail, deployed } = await deployedApp(t, server, repo.url, stack, imageApplyEnv())
    t.equal(deployed.status, 'synced', deployed.reason)
    const imageRuns = (d: { history: { trigger: string }[] }) =>
      d.history.filter((run) => ['image', 'retry'].includes(run.trigger)).length
    const heads = () =>
      registry.manifestRequests().filter((r) => r === `HEAD /v2/${repository}/manifests/stable`)
        .length
    const first = await waitFor(
      async () => {
        const d = await detail()
        return imageRuns(d) >= 1 && d.status !== 'syncing' ? d : undefined
      },
      'the image update',
      60_000,
    )
    const run = first.history[0]
    t.equal(run.result, 'completed', run.reason)
    t.same(run.servicesChanged, [], 'nothing was recreated')
    t.notOk(run.imageUpdates, 'no moved tag was taken')
    t.match(run.imagesUnchanged, [{ service: 'app', current: odd }])
    t.match(run.reason, `its pull does not bring it`)
    t.same(first.sync.failedImages, [{ service: 'app', reference, digest: odd }])
    // Five more polls: nothing more runs.
    const headsBefore = heads()
    await waitFor(() => heads() >= headsBefore + 5, 'five more image checks', 60_000)
    await app.sync?.idle()
    const still = await detail()
    t.equal(imageRuns(still), 1, 'one run of the image update, not one per poll')
    t.equal(still.history.length, first.history.length, 'no run over the polls')
    t.notOk(still.status === 'synced', 'not shown as in sync')
    t.match(still.reason, odd.slice(0, 19), 'the reason names the digest')
    t.match(still.reason, /tried again when the tag moves or on a manual sync/)

    // The tag names another digest: tried again, once.
    odd = digestOf(`odder-${pid}`)
    const again = await waitFor(
      async () => {
        const d = await detail()
        return imageRuns(d) >= 2 && d.status !== 'syncing' ? d : undefined
      },
      'the next image update',
      60_000,
    )
    const headsAgain = heads()
    await waitFor(() => heads() >= headsAgain + 5, 'five more image checks', 60_000)
    await app.sync?.idle()
    t.equal(imageRuns(await detail()), imageRuns(again), 'again once')
  },
)
