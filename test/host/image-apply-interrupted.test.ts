import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build, configFor, finishedRun, startApp, waitFor } from '../helpers/build.js'
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

// docker-cd stopped between an image update's pull and the end of its
// `up` (here: shut down while a Compose wrapper holds `up`), on the real
// engine and a real registry: the host's tag names the new image, the
// containers run the previous one, and the record holds the deploy in
// progress with the images it replaces. The restart recovers it through
// the health gate; the new image fails it, so the service is put back on
// the previous image by id, the tag names it again, and the failure is the
// digest's (failedImages), not the tree's: the deployed tree is not marked
// failed, and a later Git change of the stack does not take the failed
// digest again.

const unavailable = registryUnavailable()
const pid = process.pid

t.test(
  'an image update interrupted after its pull: recovered, rolled back, the digest failed (not the tree)',
  { skip: unavailable ?? false },
  async (t) => {
    const registry = await startRegistry()
    t.teardown(() => registry.close())
    const server = await startGitServer({ token: `tok-brk-${pid}` })
    t.teardown(() => server.close())
    const repository = `brk-${pid}-interrupted`
    const tag = (name: string) => `${registry.host}/${repository}:${name}`
    const reference = tag('stable')
    imagesRemovedAtEnd(t, [reference, tag('bad')])
    const first = await pushImage(reference, `one-${pid}`)
    const firstId = docker('image', 'inspect', '--format', '{{.Id}}', reference)
    const stack = `brk-${pid}-intr`
    const repo = applyStackRepo(t, server, stack, reference)
    // One cache and one stacks dir across the restart.
    const env = { ...imageApplyEnv(), GIT_CACHE_DIR: tempDir('docker-cd-cache-') }
    // Compose, except that `up` hangs while `block` exists (after saying so).
    const dir = tempDir('docker-cd-compose-')
    const block = join(dir, 'block')
    const blocked = join(dir, 'blocked')
    const wrapper = composeWrapper(
      () => `  if [ -e '${block}' ]; then touch '${blocked}'; exec sleep 3600; fi`,
    )
    const started = async () => {
      const app = await build(t, configFor(server, repo.url, env), {
        maxEventLoopDelayMs: 60_000,
        composeCommand: wrapper,
      })
      await startApp(app)
      const detail = async () => (await app.inject({ url: `/api/stacks/${stack}` })).json()
      return { app, detail }
    }

    const one = await started()
    const deployed = await finishedRun(one.detail, 'the first deploy')
    t.equal(deployed.status, 'synced', deployed.reason)

    // The tag moves to an image that fails its health check; docker-cd
    // pulls it (the host's tag follows) and is stopped before its `up` ends.
    writeFileSync(block, '')
    await pushImage(
      tag('bad'),
      `bad-${pid}`,
      undefined,
      'HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD false\n',
    )
    const bad = await moveTag(registry, repository, 'bad', 'stable')
    await waitFor(() => existsSync(blocked), 'the image update’s up to start', 120_000)
    const badId = docker('image', 'inspect', '--format', '{{.Id}}', reference)
    t.not(badId, firstId, 'the pull moved the host tag')
    await one.app.close()
    rmSync(block)

    const two = await started()
    const recovered = await waitFor(
      async () => {
        const d = await two.detail()
        return d.history.some((run: { trigger: string }) => run.trigger === 'recover') &&
          d.status !== 'syncing'
          ? d
          : undefined
      },
      'the recovery run',
      120_000,
    )
    const run = recovered.history[0]
    t.equal(run.trigger, 'recover')
    t.equal(run.result, 'failed', run.reason)
    t.match(run.rolledBackTo, { images: [{ service: 'app', imageId: firstId, digest: first }] })
    const app = docker(
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${stack}`,
      '--filter',
      'label=com.docker.compose.service=app',
    )
    t.equal(docker('inspect', '--format', '{{.Image}}', app), firstId, 'app on the previous image')
    t.equal(
      docker('image', 'inspect', '--format', '{{.Id}}', reference),
      firstId,
      'the tag names the previous image again',
    )
    t.same(recovered.sync.failedImages, [{ service: 'app', reference, digest: bad }])
    t.equal(recovered.status, 'failed')
    t.match(recovered.reason, `image update of service app to ${bad.slice(0, 19)} failed`)

    // A Git change of the stack: deployed, without the failed digest.
    repo.writeFile(`${stack}/notes.txt`, 'a note\n').commitAndPush('a note beside the stack')
    await two.app.inject({ method: 'POST', url: '/api/refresh?wait=true' })
    const next = await finishedRun(two.detail, 'the Git change')
    t.equal(next.history[0].trigger, 'git')
    t.equal(next.history[0].result, 'completed', next.history[0].reason)
    t.notOk(next.history[0].imageUpdates, 'the failed digest is not taken')
    t.equal(
      docker(
        'ps',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${stack}`,
        '--filter',
        'label=com.docker.compose.service=app',
      ),
      app,
      'app untouched',
    )
  },
)
