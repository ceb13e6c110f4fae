import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { createEngine } from '../../services/host/docker-engine.js'
import { asciiBanner } from '../../services/reporting/ascii-banner.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { freePort } from '../helpers/free-port.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

const TOKEN = 'tok-status-page-11'
const server = await startGitServer({ token: TOKEN })
t.teardown(() => server.close())
const repo = createFixtureRepo(server, { stacks: 4, deployDir: 'hosts/prod' })

/** A Docker Engine API stand-in on a unix socket (unit-level: the real engine is used in the container test). */
async function fakeEngine(answer: (res: import('node:http').ServerResponse) => void) {
  const socketPath = join(tempDir('docker-cd-engine-'), 'docker.sock')
  const engine = createServer((req, res) => {
    if (req.url?.startsWith('/containers/json')) answer(res)
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => engine.listen(socketPath, resolve))
  t.teardown(() => engine.close())
  return socketPath
}

t.test('banner', async (t) => {
  const banner = asciiBanner('Docker-CD')
  t.equal(banner.split('\n').length, 5)
  t.match(banner, /#/)
})

t.test('status page with a missing socket', async (t) => {
  const app = await build(
    t,
    configFor(server, repo.url, {
      GIT_DEPLOY_DIR: 'hosts/prod',
      DOCKER_SOCKET: '/nonexistent/docker.sock',
      PROJECT_NAME: 'Edge 1',
    }),
  )
  await startApp(app)
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain/)
  t.match(res.body, asciiBanner('Edge 1'))
  t.match(res.body, `repository:       ${repo.url}`)
  t.match(res.body, `revision:         main (branch) @ ${repo.head().slice(0, 7)}`)
  t.match(res.body, 'deploy directory: hosts/prod')
  t.match(res.body, /refresh: +completed \(trigger: startup\)/)
  t.match(res.body, /last refreshed: +\S+ \(\d+m?s ago\)/)
  t.match(res.body, /stacks: +4/)
  t.match(
    res.body,
    'containers:       unavailable: cannot reach the Docker engine at unix:///nonexistent/docker.sock (DOCKER_SOCKET): no such socket\n',
  )
  t.notMatch(res.body, TOKEN)
  // The routes the page names exist, and every /api route a client reads is named.
  const named = [...res.body.matchAll(/(\/[a-z{}/.-]*[a-z}])/g)].map((m) => m[1] as string)
  const registered = new Set(app.routeTable.map((r) => r.url.replace(/:([a-z]+)/g, '{$1}')))
  for (const path of named.filter((p) => /^\/(api|healthz|readyz|metrics|docs|openapi)/.test(p)))
    t.ok(registered.has(path), `${path} is a route`)
  for (const path of ['/api/events', '/api/stacks/{name}', '/healthz', '/readyz'])
    t.ok(named.includes(path), `the page names ${path}`)
})

t.test('the channels and the commit-status host, never a URL secret', async (t) => {
  // A Gitea repository path is owner/name.
  const owned = createFixtureRepo(server, { stacks: 1, name: `acme/status-${process.pid}` })
  const app = await build(
    t,
    configFor(server, owned.url, {
      DOCKER_SOCKET: '/nonexistent/docker.sock',
      NOTIFY_URLS:
        'slack+https://hooks.slack.com/services/T1/B2/slack-secret-77, ntfy+https://ntfy.example.org/deploys',
      COMMIT_STATUS: 'true',
      COMMIT_STATUS_PROVIDER: 'gitea',
      COMMIT_STATUS_TOKEN: 'status-secret-88',
    }),
  )
  await startApp(app)
  const body = (await app.inject('/')).body
  t.match(body, /notifications:\n {2}slack hooks\.slack\.com {2}nothing sent yet\n/)
  t.match(body, /ntfy ntfy\.example\.org {2}nothing sent yet/)
  t.match(body, 'commit statuses:  gitea (127.0.0.1:')
  t.notMatch(body, 'slack-secret-77')
  t.notMatch(body, 'status-secret-88')
  t.notMatch(body, '/services/T1')
  const none = await build(t, configFor(server, repo.url, { GIT_DEPLOY_DIR: 'hosts/prod' }))
  await startApp(none)
  const plain = (await none.inject('/')).body
  t.match(plain, 'notifications:    none (NOTIFY_URLS)')
  t.match(plain, 'commit statuses:  off (COMMIT_STATUS)')
})

t.test('container count from an engine, and engine failures', async (t) => {
  const socket = await fakeEngine((res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('[{"Id":"a"},{"Id":"b"}]'),
  )
  const engineAt = (path: string, timeoutMs?: number) => {
    const engine = createEngine({
      dockerHost: `unix://${path}`,
      ...(timeoutMs ? { timeoutMs } : {}),
    })
    t.teardown(() => engine.close())
    return engine
  }
  t.same(await engineAt(socket).countRunning(), { running: 2 })
  const broken = await fakeEngine((res) => res.writeHead(500).end('{}'))
  t.same(await engineAt(broken).countRunning(), {
    unavailable: `the Docker engine at unix://${broken} (DOCKER_HOST) answered HTTP 500`,
  })
  const hanging = await fakeEngine(() => {})
  t.same(await engineAt(hanging, 100).countRunning(), {
    unavailable: `cannot reach the Docker engine at unix://${hanging} (DOCKER_HOST): no answer within 100ms`,
  })
  const garbled = await fakeEngine((res) => res.writeHead(200).end('not json'))
  t.same(await engineAt(garbled).countRunning(), {
    unavailable: `the Docker engine at unix://${garbled} (DOCKER_HOST) sent an unreadable answer`,
  })

  // TCP: the address without any user@ (it could be a credential), and the
  // variable that set it; the default socket asks for DOCKER_HOST.
  const closed = await freePort()
  const overTcp = createEngine({ dockerHost: `tcp://someone-secret@127.0.0.1:${closed}` })
  t.teardown(() => overTcp.close())
  const tcpAnswer = await overTcp.countRunning()
  t.same(tcpAnswer, {
    unavailable: `cannot reach the Docker engine at tcp://127.0.0.1:${closed} (DOCKER_HOST): connection refused`,
  })
  t.notMatch(JSON.stringify(tcpAnswer), 'someone-secret')
  const byDefault = createEngine({
    dockerHost: 'unix:///nonexistent/docker.sock',
    source: 'default',
  })
  t.teardown(() => byDefault.close())
  t.same(await byDefault.countRunning(), {
    unavailable:
      'cannot reach the Docker engine at unix:///nonexistent/docker.sock (the default; set DOCKER_HOST): no such socket',
  })

  const app = await build(
    t,
    configFor(server, repo.url, { GIT_DEPLOY_DIR: 'hosts/prod', DOCKER_SOCKET: socket }),
  )
  await startApp(app)
  t.match((await app.inject('/')).body, 'containers:       2 running')
})

t.test(
  'a real Docker engine, when this machine has one',
  {
    skip:
      !existsSync('/var/run/docker.sock') && 'no Docker engine here; the container test covers it',
  },
  async (t) => {
    const { execFileSync } = await import('node:child_process')
    const running = execFileSync('docker', ['ps', '-q'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean).length
    const app = await build(t, configFor(server, repo.url, { GIT_DEPLOY_DIR: 'hosts/prod' }))
    await startApp(app)
    t.match((await app.inject('/')).body, `containers:       ${running} running`)
  },
)
