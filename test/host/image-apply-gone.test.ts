import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { deployedApp, waitFor } from '../helpers/build.js'
import { docker } from '../helpers/docker.js'
import { startGitServer } from '../helpers/git-server.js'
import {
  applyStackRepo,
  composeWrapper,
  imageApplyEnv,
  imagesRemovedAtEnd,
} from '../helpers/image-stack.js'
import { moveTag, pushImage, registryUnavailable, startRegistry } from '../helpers/registry.js'
import { tempDir } from '../helpers/temp-dir.js'

// The previous image is removed from the host by someone else (`docker
// image rm`) while an image update's `up` fails its health gate, on the
// real engine and a real registry: the rollback cannot put it back under
// its tag. The failure says so in words, nothing crashes, nothing runs again
// over the next polls (no pull, no `up`), and the stack reads `failed`
// — not `synced`: the host runs the digest that failed, so the registry no
// longer offers a moved tag, but the failure stands.

const unavailable = registryUnavailable()
const pid = process.pid

t.test(
  'an image update whose previous image is gone before the rollback: failed, said, not retried',
  { skip: unavailable ?? false },
  async (t) => {
    const registry = await startRegistry()
    t.teardown(() => registry.close())
    const server = await startGitServer({ token: `tok-brk-gone-${pid}` })
    t.teardown(() => server.close())
    const repository = `brk-${pid}-gone`
    const tag = (name: string) => `${registry.host}/${repository}:${name}`
    const reference = tag('stable')
    imagesRemovedAtEnd(t, [reference, tag('bad')])
    await pushImage(reference, `one-${pid}`)
    const firstId = docker('image', 'inspect', '--format', '{{.Id}}', reference)
    const stack = `brk-${pid}-gone`
    const repo = applyStackRepo(t, server, stack, reference)
    // Compose, except that after an `up` the image named in `remove` goes.
    const dir = tempDir('docker-cd-compose-')
    const remove = join(dir, 'remove')
    const removed = join(dir, 'removed')
    const ups = join(dir, 'ups')
    const wrapper = composeWrapper(
      (compose) =>
        `  echo up >> '${ups}'\n  ${compose} "$@"; rc=$?\n  if [ -e '${remove}' ]; then docker image rm "$(cat '${remove}')" > '${removed}' 2>&1; rm -f '${remove}'; fi\n  exit $rc`,
    )
    const { app, detail, deployed } = await deployedApp(
      t,
      server,
      repo.url,
      stack,
      imageApplyEnv(),
      {
        composeCommand: wrapper,
      },
    )
    t.equal(deployed.status, 'synced', deployed.reason)

    writeFileSync(remove, firstId)
    await pushImage(
      tag('bad'),
      `bad-${pid}`,
      undefined,
      'HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD false\n',
    )
    const bad = await moveTag(registry, repository, 'bad', 'stable')
    const failed = await waitFor(
      async () => {
        const d = await detail()
        const run = d.history.find((r: { trigger: string }) => r.trigger === 'image')
        return run && d.status !== 'syncing' ? { d, run } : undefined
      },
      'the failed image update',
      120_000,
    )
    t.ok(existsSync(removed), 'the previous image was removed by someone')
    t.throws(() => docker('image', 'inspect', firstId), 'the previous image is gone')
    t.equal(failed.run.result, 'failed')
    t.notOk(failed.run.rolledBackTo, 'not rolled back')
    t.match(failed.run.error, /failed too: image sha256:[0-9a-f]{12} is no longer on the host/)
    t.same(failed.d.sync.failedImages, [{ service: 'app', reference, digest: bad }])

    // Three more polls: nothing runs, the stack stays failed and says why.
    const heads = () =>
      registry.manifestRequests().filter((r) => r === `HEAD /v2/${repository}/manifests/stable`)
        .length
    const upsNow = () =>
      existsSync(ups) ? readFileSync(ups, 'utf8').split('\n').filter(Boolean).length : 0
    const [headsBefore, upsBefore] = [heads(), upsNow()]
    await waitFor(() => heads() >= headsBefore + 3, 'three more image checks', 60_000)
    await app.sync?.idle()
    const still = await detail()
    t.equal(upsNow(), upsBefore, 'no up')
    t.equal(still.history.length, failed.d.history.length, 'no run')
    t.equal(still.status, 'failed', still.reason)
    t.match(still.reason, `image update of service app to ${bad.slice(0, 19)} failed`)
    t.match(still.reason, /is no longer on the host/)
  },
)
