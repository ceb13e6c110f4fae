import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { type ReceivedRequest, type Receiver, startReceiver } from '../helpers/notify-receiver.js'
import { startSecondEngine } from '../helpers/second-engine.js'
import { tempDir } from '../helpers/temp-dir.js'

// The instance's outages, for real: a real second engine stopped and started
// again (the engine watch loses it and finds it back), and the real Git
// server refusing the token (refreshes fail) and accepting it again. With a
// threshold of 0 each outage is one message when it starts and one when it
// ends, however many checks fail in between; an outage shorter than its
// threshold is no message at all. Receivers are real HTTP servers on loopback.

const unavailable = hostUnavailable()
const pid = process.pid

type Body = Record<string, unknown>
const json = (request: ReceivedRequest) => JSON.parse(request.body.toString('utf8')) as Body
const kinds = (receiver: Receiver) => receiver.requests.map((request) => json(request).event)

t.test(
  'the engine stopped and started: engine_down once, engine_up once; under a long threshold, nothing',
  { skip: unavailable ?? false, timeout: 110_000 },
  async (t) => {
    const engine = await startSecondEngine()
    t.teardown(() => engine.close())
    const server = await startGitServer({ token: `tok-outage-engine-${pid}` })
    t.teardown(() => server.close())
    const repo = createFixtureRepo(server, { stacks: 0, name: `outage-engine-${pid}` })
    const prompt = await startReceiver()
    const patient = await startReceiver()
    t.teardown(() => prompt.close())
    t.teardown(() => patient.close())

    // Two instances watch the same engine: one told at once, one after 10 minutes.
    const appFor = async (instance: string, after: string, receiver: Receiver) => {
      const app = await build(
        t,
        configFor(server, repo.url, {
          SYNC_MODE: 'detect',
          DOCKER_HOST: `unix://${engine.socket}`,
          DOCKER_SOCKET: engine.socket,
          STACKS_DIR: tempDir('docker-cd-stacks-'),
          INSTANCE_NAME: instance,
          NOTIFY_URLS: `generic+${receiver.url}/x`,
          NOTIFY_ENGINE_DOWN_AFTER: after,
        }),
        { maxEventLoopDelayMs: 60_000 },
      )
      await startApp(app)
      return app
    }
    const promptName = `engine-now-${pid}`
    const now = await appFor(promptName, '0', prompt)
    const later = await appFor(`engine-later-${pid}`, '10m', patient)
    const watching = () => now.host?.eventsConnected() && later.host?.eventsConnected()
    await waitFor(watching, 'both instances watching the engine’s events')
    const logged = (app: typeof now, pattern: RegExp) =>
      app.logs.filter((line) => pattern.test(line.msg)).length

    await engine.stop()
    await waitFor(() => prompt.requests.length >= 1, 'the engine_down message', 30_000)
    // The patient instance lost the engine too: it is only its threshold that keeps it quiet.
    await waitFor(
      () => logged(later, /^engine unreachable/) === 1,
      'the patient instance to lose the engine',
      30_000,
    )
    t.match(json(prompt.requests[0] as ReceivedRequest), {
      version: 1,
      event: 'engine_down',
      instance: promptName,
      reason: /^unreachable for \d+ s: \S/,
    })
    t.equal(json(prompt.requests[0] as ReceivedRequest).stack, undefined, 'no stack in it')
    t.equal(prompt.requests[0]?.path, '/x')

    await engine.start()
    await waitFor(() => prompt.requests.length >= 2, 'the engine_up message', 60_000)
    // Both instances back on the event stream, having re-checked: nothing else is coming.
    await waitFor(watching, 'both instances watching the engine again', 60_000)
    await waitFor(
      () =>
        logged(now, /^engine answers again/) === 1 && logged(later, /^engine answers again/) === 1,
      'both instances to find the engine back',
    )
    await now.notify.settled()
    await later.notify.settled()
    t.match(json(prompt.requests[1] as ReceivedRequest), {
      version: 1,
      event: 'engine_up',
      instance: promptName,
      reason: /^answering again after \d+ s unreachable$/,
    })
    t.same(kinds(prompt), ['engine_down', 'engine_up'], 'one message each way')
    t.same(kinds(patient), [], 'an outage shorter than NOTIFY_ENGINE_DOWN_AFTER is not told')
    t.equal(logged(now, /^engine unreachable/), 1, 'one loss seen, however many pings failed')
    t.match((await now.inject('/api/notifications')).json().channels, [
      { kind: 'generic', queued: 0, last: { outcome: 'delivered', event: 'engine_up' } },
    ])
  },
)

t.test(
  'Git refusing the token: git_failing once, git_recovered once; under a long threshold, nothing',
  { timeout: 60_000 },
  async (t) => {
    const token = `tok-outage-git-${pid}`
    const server = await startGitServer({ token })
    t.teardown(() => server.close())
    const repo = createFixtureRepo(server, { stacks: 1, name: `outage-git-${pid}` })
    const prompt = await startReceiver()
    const patient = await startReceiver()
    t.teardown(() => prompt.close())
    t.teardown(() => patient.close())
    const appFor = async (instance: string, after: string, receiver: Receiver) => {
      const app = await build(
        t,
        configFor(server, repo.url, {
          INSTANCE_NAME: instance,
          NOTIFY_URLS: `generic+${receiver.url}/x`,
          NOTIFY_GIT_FAILING_AFTER: after,
        }),
      )
      await startApp(app)
      return app
    }
    const promptName = `git-now-${pid}`
    const now = await appFor(promptName, '0', prompt)
    const later = await appFor(`git-later-${pid}`, '10m', patient)
    const refreshBoth = () =>
      Promise.all([now, later].map((app) => app.desiredState.refresh('manual').done))

    // The token is revoked: the refreshes fail, told at once by the one, not by the other.
    const revoked = `revoked-${pid}`
    server.setToken(revoked)
    t.match(await refreshBoth(), [
      { status: 'failed', error: { reason: 'auth_failed' } },
      { status: 'failed', error: { reason: 'auth_failed' } },
    ])
    await waitFor(() => prompt.requests.length >= 1, 'the git_failing message')
    t.match(json(prompt.requests[0] as ReceivedRequest), {
      version: 1,
      event: 'git_failing',
      instance: promptName,
      reason: /^failing for \d+ s: auth_failed: /,
    })

    // Failing again: nothing new.
    t.match(await refreshBoth(), [{ status: 'failed' }, { status: 'failed' }])
    await now.notify.settled()
    t.same(kinds(prompt), ['git_failing'], 'a second failure of the same outage tells nothing')

    // The token accepted again: one recovery.
    server.setToken(token)
    t.match(await refreshBoth(), [{ status: 'completed' }, { status: 'completed' }])
    await waitFor(() => prompt.requests.length >= 2, 'the git_recovered message')
    await now.notify.settled()
    await later.notify.settled()
    t.match(json(prompt.requests[1] as ReceivedRequest), {
      version: 1,
      event: 'git_recovered',
      instance: promptName,
      reason: /^refreshing again after \d+ s failing$/,
    })
    t.same(kinds(prompt), ['git_failing', 'git_recovered'], 'one message each way')
    t.same(kinds(patient), [], 'an outage shorter than NOTIFY_GIT_FAILING_AFTER is not told')
    const bodies = prompt.requests.map((request) => request.body.toString('utf8')).join('\n')
    for (const secret of [token, revoked]) t.notMatch(bodies, secret, 'no token in a message')
  },
)
