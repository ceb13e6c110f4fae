import t from 'tap'
import { deployedApp, waitFor } from '../helpers/build.js'
import { docker } from '../helpers/docker.js'
import { startGitServer } from '../helpers/git-server.js'
import { applyStackRepo, imageApplyEnv, imagesRemovedAtEnd } from '../helpers/image-stack.js'
import {
  moveTag,
  pushImage,
  registryUnavailable,
  startOddRegistry,
  startRegistry,
} from '../helpers/registry.js'

// A registry whose manifest HEAD answers (the tag moved) while every pull is
// refused as unauthorized, for ever, on the real engine: the image update
// fails at its pull as the registry's failure (the tree is not marked
// failed), the previous image keeps running under its tag, and the runs
// that follow are retries backing off — the status says why and when
// (`retried in 1s`, then 2s, then 4s), one pull per retry, none per poll.

const unavailable = registryUnavailable()
const pid = process.pid

t.test(
  'a pull refused for ever: the registry’s failure, retried backing off, said',
  { skip: unavailable ?? false },
  async (t) => {
    const registry = await startRegistry()
    t.teardown(() => registry.close())
    let refuse = false
    const proxy = await startOddRegistry(registry, { refusePulls: () => refuse })
    t.teardown(() => proxy.close())
    const server = await startGitServer({ token: `tok-brk-refused-${pid}` })
    t.teardown(() => server.close())
    const repository = `brk-${pid}-refused`
    const reference = `${proxy.host}/${repository}:stable`
    const pushed = imagesRemovedAtEnd(t, [reference, `${proxy.host}/${repository}:two`])
    await pushImage(reference, `one-${pid}`)
    const firstId = docker('image', 'inspect', '--format', '{{.Id}}', reference)
    await pushImage(pushed[1] as string, `two-${pid}`)
    const stack = `brk-${pid}-refused`
    const repo = applyStackRepo(t, server, stack, reference)
    const { app, detail, deployed } = await deployedApp(
      t,
      server,
      repo.url,
      stack,
      imageApplyEnv(),
      {
        sync: { retryBackoff: { initialMs: 1000, maxMs: 4000 } },
      },
    )
    t.equal(deployed.status, 'synced', deployed.reason)

    refuse = true
    await moveTag(registry, repository, 'two', 'stable')
    const reasons = new Set<string>()
    const runs = (d: { history: { trigger: string; result: string }[] }) =>
      d.history.filter((run) => run.trigger === 'image' || run.trigger === 'retry')
    const latest = await waitFor(
      async () => {
        const d = await detail()
        const waiting = /retried in \d+s/.exec(d.reason)
        if (waiting) reasons.add(waiting[0])
        return reasons.has('retried in 4s') && runs(d).length >= 3 ? d : undefined
      },
      'retries backing off to 4s',
      60_000,
    )
    t.same([...reasons].slice(0, 3), ['retried in 1s', 'retried in 2s', 'retried in 4s'])
    const failed = runs(latest)
    t.ok(
      failed.every((run) => run.result === 'failed'),
      'every run failed',
    )
    t.match(latest.reason, /pull failed: .*; retried in 4s/)
    t.match(failed.at(-1), { trigger: 'image', result: 'failed' }, 'the first, newest last')
    t.match(failed[0], { trigger: 'retry' })
    t.notOk(latest.sync.failedImages, 'the digest did not fail: it was never pulled')
    t.ok(proxy.pulls() <= runs(latest).length + 1, 'one pull per run, none per poll')
    const app1 = docker(
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${stack}`,
      '--filter',
      'label=com.docker.compose.service=app',
    )
    t.equal(docker('inspect', '--format', '{{.Image}}', app1), firstId, 'app on its image')
    t.equal(docker('image', 'inspect', '--format', '{{.Id}}', reference), firstId, 'tag unmoved')
    await app.close()
  },
)
