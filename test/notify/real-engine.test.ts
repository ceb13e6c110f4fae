import { createHmac } from 'node:crypto'
import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { type ReceivedRequest, startReceiver } from '../helpers/notify-receiver.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 28 on the real engine, with real receivers on loopback: a failing
// deploy that rolls back is told once per channel and is a `failure` status
// on its commit; the same tree failing again (a refresh, a manual sync)
// tells nothing; the fix is one `recovered` and a `success`; a receiver
// answering 500 then 200 gets each message once; a receiver that never
// answers holds up no deploy and its message is dropped after the timeout,
// counted in the metrics; drift on the stack is told once; no token or URL
// secret reaches a log line.

const unavailable = hostUnavailable()
const pid = process.pid

const HMAC_KEY = `hmac-${pid}-9c2e71`
const SLACK_TOKEN = `slacktok${pid}x7q`
const STATUS_TOKEN = `status-token-${pid}-4d1f`

type Body = Record<string, unknown>
const json = (request: ReceivedRequest) => JSON.parse(request.body.toString('utf8')) as Body

t.test(
  'a failed deploy, the same failure again, the fix and drift: told once each, on every channel and as commit statuses',
  { skip: unavailable ?? false, timeout: 300_000 },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: `tok-notify-${pid}` })
    t.teardown(() => server.close())
    const generic = await startReceiver()
    const slack = await startReceiver()
    const ntfy = await startReceiver()
    // Answers the first request of each message 500, its retry 200.
    const flakySeen = new Set<string>()
    const flaky = await startReceiver((request) => {
      const key = request.body.toString('utf8')
      if (flakySeen.has(key)) return { status: 200 }
      flakySeen.add(key)
      return { status: 500 }
    })
    const silent = await startReceiver(() => 'hang')
    const statuses = await startReceiver(() => ({ status: 201, body: '{}' }))
    for (const receiver of [generic, slack, ntfy, flaky, silent, statuses])
      t.teardown(() => receiver.close())

    const stack = `notify-${pid}`
    t.teardown(() => removeProject(stack))
    const unhealthy =
      '    healthcheck:\n      test: ["CMD", "false"]\n      interval: 1s\n      retries: 1\n'
    const service = (health: string) =>
      `services:\n  app:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n${health}`
    const repo = createFixtureRepo(server, { stacks: 0, name: `acme/deploy-${pid}` })
    repo.writeFile(`${stack}/compose.yaml`, service('')).commitAndPush('a healthy stack')

    const urls = [
      `generic+${generic.url}/hook?secret=${HMAC_KEY}`,
      `slack+${slack.url}/services/T000/B000/${SLACK_TOKEN}`,
      `ntfy+${ntfy.url}/deploys`,
      `generic+${flaky.url}/flaky`,
      `generic+${silent.url}/silent`,
    ]
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        STACKS_DIR: tempDir('docker-cd-stacks-'),
        SYNC_TIMEOUT: '20s',
        INSTANCE_NAME: 'edge-test',
        PUBLIC_URL: 'https://cd.example.test',
        NOTIFY_URLS: urls.join('\n'),
        COMMIT_STATUS: 'true',
        COMMIT_STATUS_PROVIDER: 'gitea',
        COMMIT_STATUS_API_URL: `${statuses.url}/api/v1`,
        COMMIT_STATUS_TOKEN: STATUS_TOKEN,
      }),
      {
        maxEventLoopDelayMs: 60_000,
        // Each attempt may take 20 s; the silent receiver's message goes after two.
        notify: {
          timeoutMs: 20_000,
          retries: 1,
          backoff: () => 100,
          commitStatusRetryDelayMs: 100,
        },
      },
    )
    await startApp(app)
    const treeNow = () =>
      app.desiredState.current().stacks.find((s) => s.path === stack)?.treeOid ?? ''
    const revisionNow = () => app.desiredState.current().revision ?? ''
    const detail = async () => (await app.inject(`/api/stacks/${stack}`)).json()
    /** The run of the current tree has finished and its status is published. */
    const runOfTreeFinished = (what: string) =>
      waitFor(
        async () => {
          const d = await detail()
          return d.history?.[0]?.toTree === d.treeHash && d.status !== 'syncing' ? d : undefined
        },
        what,
        120_000,
      )
    const statusCalls = () =>
      statuses.requests.map(
        (request) => ({ path: request.path, ...json(request) }) as { path: string; state: string },
      )

    // The first tree deploys: no message (a routine deploy is opt-in), a pending then a success status.
    const first = await runOfTreeFinished('the first deploy')
    t.equal(first.status, 'synced')
    const firstRevision = revisionNow()
    await waitFor(
      () => statusCalls().some((call) => call.state === 'success'),
      'the first success status',
    )
    await app.notify.settled()
    t.equal(generic.requests.length, 0, 'a routine deploy sends nothing by default')
    const context = `docker-cd/edge-test/${stack}`
    t.match(statusCalls(), [
      {
        path: `/api/v1/repos/acme/deploy-${pid}/statuses/${firstRevision}`,
        state: 'pending',
        context,
        target_url: `https://cd.example.test/ui/stacks/${stack}`,
      },
      { state: 'success', context },
    ])
    t.match(statuses.requests[0]?.headers, {
      authorization: `token ${STATUS_TOKEN}`,
      'content-type': 'application/json',
    })

    // A tree whose health check fails: rolled back, told once per channel, a failure status.
    repo
      .writeFile(
        `${stack}/compose.yaml`,
        service(
          '    healthcheck:\n      test: ["CMD", "false"]\n      interval: 1s\n      retries: 1\n',
        ),
      )
      .commitAndPush('Break the health check')
    await app.desiredState.refresh('manual').done
    const badTree = treeNow()
    const badRevision = revisionNow()
    const failed = await runOfTreeFinished('the failing deploy')
    t.equal(failed.status, 'failed')
    await waitFor(() => generic.requests.length >= 1, 'the failure message')
    await waitFor(() => flaky.requests.length >= 2, 'the flaky receiver’s retry')
    await waitFor(() => silent.requests.length >= 1, 'the silent receiver holding the message')
    await waitFor(
      () => statusCalls().some((call) => call.state === 'failure'),
      'the failure status',
    )
    const told = json(generic.requests[0] as ReceivedRequest)
    t.match(told, {
      version: 1,
      event: 'rolled_back',
      instance: 'edge-test',
      stack,
      revision: badRevision,
      subject: 'Break the health check',
      reason: /unhealthy|health/,
      rolledBackTo: { revision: firstRevision, treeHash: first.treeHash },
      url: `https://cd.example.test/ui/stacks/${stack}`,
    })
    // The generic body is signed as GitHub signs webhooks; the secret left the URL.
    const raw = (generic.requests[0] as ReceivedRequest).body
    t.equal(
      generic.requests[0]?.headers['x-docker-cd-signature-256'],
      `sha256=${createHmac('sha256', HMAC_KEY).update(raw).digest('hex')}`,
    )
    t.equal(generic.requests[0]?.path, '/hook', 'the secret is not sent in the URL')
    t.match(json(slack.requests[0] as ReceivedRequest), {
      text: new RegExp(`${stack}`),
      blocks: Array,
    })
    t.equal(slack.requests[0]?.path, `/services/T000/B000/${SLACK_TOKEN}`)
    t.match(ntfy.requests[0]?.headers, { title: new RegExp(stack), priority: /^(high|urgent)$/ })
    t.equal(ntfy.requests[0]?.path, '/deploys')
    const flakyBodies = flaky.requests.map((request) => request.body.toString('utf8'))
    t.equal(flakyBodies[0], flakyBodies[1], '500, then the same message again')
    t.match(statusCalls().at(-1), {
      path: `/api/v1/repos/acme/deploy-${pid}/statuses/${badRevision}`,
      state: 'failure',
      context,
      description: /health/,
    })

    // The same tree again — a refresh, a manual sync that fails the same way: nothing new.
    await app.desiredState.refresh('manual').done
    const again = await app.sync?.requestSync(stack).done
    t.equal(again?.status, 'failed', 'the manual sync failed the same way')
    t.equal(treeNow(), badTree)
    await app.sync?.idle()

    // The fix: one recovery on every channel and a success status, while the
    // silent receiver still holds the failure message (it delays nothing).
    const mended = service('    environment:\n      MENDED: "1"\n')
    repo.writeFile(`${stack}/compose.yaml`, mended).commitAndPush('Mend the health check')
    await app.desiredState.refresh('manual').done
    const fixRevision = revisionNow()
    const fixed = await runOfTreeFinished('the fix')
    t.equal(fixed.status, 'synced')
    const silentChannel = () =>
      app.notify.status().channels.find((channel) => channel.channel.includes(silent.url.slice(7)))
    t.equal(
      silentChannel()?.last,
      undefined,
      'the fix was deployed while the silent receiver still held the failure message',
    )
    await waitFor(() => generic.requests.length >= 2, 'the recovery message')
    await waitFor(
      () =>
        statusCalls().some((call) => call.state === 'success' && call.path.endsWith(fixRevision)),
      'the success status of the fix',
    )
    t.match(json(generic.requests[1] as ReceivedRequest), {
      event: 'recovered',
      stack,
      revision: fixRevision,
      subject: 'Mend the health check',
    })

    // Drift: the container stopped by hand is told once (self-heal is off), and not again.
    const container = docker(
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${stack}`,
    ).split('\n')[0] as string
    docker('stop', '-t', '1', container)
    await waitFor(() => generic.requests.length >= 3, 'the drift message', 60_000)
    t.match(json(generic.requests[2] as ReceivedRequest), { event: 'drift', stack })
    // A refresh checks the stack again: still drifted, nothing new.
    await app.desiredState.refresh('manual').done
    await app.sync?.idle()
    docker('start', container)
    await waitFor(
      async () => (await detail()).status === 'synced',
      'the stack in line again after the start by hand',
      60_000,
    )

    // Broken again (told again: the failure was mended in between), then
    // reverted: the host runs the mended tree already, so nothing is
    // deployed, and that is the recovery.
    repo.writeFile(`${stack}/compose.yaml`, service(unhealthy)).commitAndPush('Break it again')
    await app.desiredState.refresh('manual').done
    t.equal(treeNow(), badTree, 'the same broken tree as before')
    await waitFor(() => generic.requests.length >= 4, 'the second failure message', 120_000)
    t.match(json(generic.requests[3] as ReceivedRequest), { event: 'rolled_back', stack })
    repo.writeFile(`${stack}/compose.yaml`, mended).commitAndPush('Revert "Break it again"')
    await app.desiredState.refresh('manual').done
    const revertRevision = revisionNow()
    await waitFor(() => generic.requests.length >= 5, 'the recovery by revert', 60_000)
    t.match(json(generic.requests[4] as ReceivedRequest), {
      event: 'recovered',
      stack,
      revision: revertRevision,
      subject: 'Revert "Break it again"',
      reason: /no longer in Git/,
    })

    // The silent receiver's message is dropped after its timeouts, and counted.
    await waitFor(() => silentChannel()?.last, 'the silent message dropped', 90_000)
    t.match(silentChannel()?.last, {
      outcome: 'dropped',
      event: 'rolled_back',
      reason: /timed out after 20 ?s/,
      attempts: 2,
    })
    const metrics = (await app.inject('/metrics')).body
    t.match(
      metrics,
      new RegExp(
        `docker_cd_notifications_total\\{channel="generic ${silent.url.slice(7).replace(/\./g, '\\.')} \\(http\\)",result="dropped"\\} 1`,
      ),
    )
    t.match(metrics, /docker_cd_commit_statuses_total\{result="sent"\} [1-9]/)
    t.notMatch(metrics, SLACK_TOKEN)
    t.notMatch(metrics, HMAC_KEY)

    // Exactly these messages, on every channel that answers: failure, recovery, drift.
    const kinds = (receiver: { requests: ReceivedRequest[] }) =>
      receiver.requests.map((request) => json(request).event)
    t.same(kinds(generic), ['rolled_back', 'recovered', 'drift', 'rolled_back', 'recovered'])
    t.equal(slack.requests.length, 5)
    t.equal(ntfy.requests.length, 5)
    t.same(
      [...new Set(flaky.requests.map((request) => request.body.toString('utf8')))].length,
      5,
      'each message once after its retry',
    )
    t.same(
      statusCalls().map((call) => call.state),
      [
        ...['pending', 'success'], // the first deploy
        ...['pending', 'failure'], // the broken tree
        ...['pending', 'failure'], // the manual sync of it
        ...['pending', 'success'], // the fix
        ...['pending', 'failure'], // broken again
      ],
      'one pending and one result per deploy of a commit; the revert deploys nothing',
    )

    // The status page and the API show channels by kind and host only.
    const listed = (await app.inject('/api/notifications')).json()
    t.equal(listed.channels.length, 5)
    t.match(listed.commitStatus, { provider: 'gitea', api: statuses.url.slice(7) })
    const everything = JSON.stringify(listed) + (await app.inject('/')).body
    for (const secret of [HMAC_KEY, SLACK_TOKEN, STATUS_TOKEN])
      t.notMatch(everything, secret, 'no secret in the API or the status page')
    const secrets = [HMAC_KEY, SLACK_TOKEN, STATUS_TOKEN, `tok-notify-${pid}`]
    t.ok(app.logs.length > 0 && app.logs.some((line) => /notification/.test(line.msg)))
    t.same(
      app.logs
        .map((line) => JSON.stringify(line))
        .filter((text) => secrets.some((secret) => text.includes(secret))),
      [],
      'no secret in any log line',
    )
  },
)
