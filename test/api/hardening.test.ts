import { readdirSync } from 'node:fs'
import { type AddressInfo, connect, type Socket } from 'node:net'
import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { isReady, serviceEnv, startService } from '../helpers/service.js'

// What a bad day does to the running service (the built server as a
// process): file descriptors run out, clients send bodies slowly, load
// produces request logs.

const git = await startGitServer({ token: 'tok-hardening-51c' })
t.teardown(() => git.close())

const openFds = (pid: number) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}

t.test('out of file descriptors: the service sheds connections and keeps running', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const env = await serviceEnv(git, repo.url, { REFRESH_POLL_INTERVAL: '1s' })
  const service = startService(t, env, { shellPrefix: 'ulimit -n 128;' })
  const base = `http://127.0.0.1:${env.PORT}`
  await waitFor(() => isReady(base), 'the service to be ready')
  const pid = service.child.pid as number

  const sockets: Socket[] = []
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
  })
  let exitCode: number | null | undefined
  void service.exited.then((code) => {
    exitCode = code
  })
  const refreshFailures = () => service.output.stdout.match(/"msg":"refresh failed/g)?.length ?? 0
  // Opens connections until the process holds all of its descriptors.
  await waitFor(() => {
    for (let i = 0; i < 20; i++) {
      const socket = connect(Number(env.PORT), '127.0.0.1')
      socket.on('error', () => {})
      sockets.push(socket)
    }
    return openFds(pid) >= 127 || exitCode !== undefined
  }, 'the service to run out of file descriptors')
  const failuresBefore = refreshFailures()
  // Polled refreshes need descriptors for git's pipes: two of them failing
  // shows the process lived through the shortage (its samplers ran too).
  await waitFor(
    () => exitCode !== undefined || refreshFailures() >= failuresBefore + 2,
    'two refreshes to fail for want of descriptors',
  )
  t.equal(exitCode, undefined, 'the process is still running', { stderr: service.output.stderr })
  t.match(service.output.stdout, /EMFILE/, 'the failure names the shortage')

  for (const socket of sockets) socket.destroy()
  await waitFor(() => isReady(base), 'the service to answer again once connections close')
  const health = await fetch(`${base}/healthz`)
  t.equal(health.status, 200)
  await waitFor(
    () =>
      service.output.stdout.includes(
        '"msg":"refresh finished"',
        service.output.stdout.lastIndexOf('EMFILE'),
      ),
    'a refresh to succeed again',
  )
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
})

t.test('slow request bodies end with 408 in bounded time', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const app = await build(t, configFor(git, repo.url), { requestTimeoutMs: 1_000 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo

  // 100 clients announce a 1 KiB webhook body and send one byte a second.
  const clients = Array.from({ length: 100 }, () => {
    const socket = connect(port, '127.0.0.1')
    const state = { answer: '', closed: false }
    socket.on('data', (chunk) => {
      state.answer += chunk
    })
    socket.on('close', () => {
      state.closed = true
    })
    socket.on('error', () => {})
    socket.write(
      'POST /api/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n{',
    )
    const trickle = setInterval(() => socket.write(' '), 1_000)
    socket.on('close', () => clearInterval(trickle))
    t.teardown(() => {
      clearInterval(trickle)
      socket.destroy()
    })
    return state
  })
  await waitFor(
    () => clients.every((client) => client.closed),
    'every slow client to be cut off',
    30_000,
  )
  t.ok(
    clients.every((client) => client.answer.startsWith('HTTP/1.1 408')),
    'each got a 408 before its connection closed',
  )
  t.equal((await app.inject('/healthz')).statusCode, 200, 'the service serves on')
})

t.test('per-request logs are debug lines; refresh logs stay at info', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const app = await build(t, configFor(git, repo.url, { LOG_LEVEL: 'debug' }))
  await startApp(app)
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/api/stacks')).statusCode, 200)
  const levels = (msg: string) => app.logs.filter((l) => l.msg === msg).map((l) => l.level)
  t.same(levels('incoming request'), [20, 20, 20], 'incoming request at debug')
  t.same(levels('request completed'), [20, 20, 20], 'request completed at debug')
  t.same(levels('refresh finished'), [30], 'the refresh at info')
})

t.test(
  'a server sending endless data: git stops at GIT_MEMORY_LIMIT, not at the host’s memory',
  async (t) => {
    const repo = createFixtureRepo(git, { stacks: 1 })
    const app = await build(
      t,
      configFor(git, repo.url, { GIT_MEMORY_LIMIT: '256MiB', GIT_TIMEOUT: '120s' }),
    )
    await startApp(app)
    git.setGarbage(true)
    t.teardown(() => git.setGarbage(false))
    const outcome = await app.desiredState.refresh('manual').done
    t.equal(outcome.status, 'failed')
    t.equal(outcome.error?.reason, 'memory_limit', 'stopped by the limit, long before GIT_TIMEOUT')
    t.match(outcome.message, /GIT_MEMORY_LIMIT/, 'the message names the setting')
    t.equal(app.desiredState.current().stacks.length, 1, 'the last good state is kept')
  },
)
