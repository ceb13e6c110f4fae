import t from 'tap'
import { parseDockerHost } from '../../schemas/docker-host.js'
import { loadConfig } from '../../services/base/config.js'
import type { EngineEvent } from '../../services/host/docker-engine.js'
import { EngineUnavailable } from '../../services/host/docker-engine.js'
import { createEngineWatch } from '../../services/host/engine-watch.js'
import { waitFor } from '../helpers/build.js'

// The watch's decisions as pure logic over a scripted engine (the real
// engine's stream is exercised in detect.test.ts and engine-restart.test.ts).

type Script = {
  up: boolean
  subscribe: boolean
  emit?: (event: EngineEvent) => void
  end?: (error: Error) => void
  attempts: number
}

function scriptedEngine(script: Script) {
  return {
    ping: async () => {
      if (!script.up) throw new EngineUnavailable('ECONNREFUSED /x.sock')
    },
    events: (handlers: {
      onOpen: () => void
      onEvent: (e: EngineEvent) => void
      signal: AbortSignal
    }) =>
      new Promise<void>((resolve, reject) => {
        script.attempts++
        if (!script.up) return reject(new EngineUnavailable('ECONNREFUSED /x.sock'))
        if (!script.subscribe) return reject(new EngineUnavailable('engine answered HTTP 400'))
        handlers.onOpen()
        script.emit = handlers.onEvent
        script.end = reject
        handlers.signal.addEventListener('abort', () => resolve())
      }),
  }
}

t.test('events are gathered per project; noise is ignored', async (t) => {
  const script: Script = { up: true, subscribe: true, attempts: 0 }
  const batches: string[][] = []
  const watch = createEngineWatch({
    engine: scriptedEngine(script),
    onProjects: (projects) => batches.push([...projects].sort()),
    onLost: () => t.fail('not lost'),
    onReconnected: () => t.fail('never lost'),
    debounceMs: 20,
  })
  t.teardown(() => watch.close())
  await waitFor(() => script.emit, 'the subscription')
  t.ok(watch.connected())
  for (const action of ['exec_create: sh', 'exec_start: sh', 'exec_die', 'attach', 'resize'])
    script.emit?.({ project: 'noise', action, container: 'c' })
  for (const action of ['kill', 'die', 'stop', 'health_status: unhealthy'])
    script.emit?.({ project: 'web', action, container: 'web-app-1' })
  script.emit?.({ project: 'db', action: 'start', container: 'db-1' })
  await waitFor(() => batches.length > 0, 'one batch')
  t.same(batches, [['db', 'web']], 'one re-check per project, health checks not counted')
})

t.test(
  'a broken stream: a hiccup reconnects at once, a dead engine is lost once, then back',
  async (t) => {
    const script: Script = { up: true, subscribe: true, attempts: 0 }
    const said: string[] = []
    const watch = createEngineWatch({
      engine: scriptedEngine(script),
      onProjects: () => {},
      onLost: (reason) => said.push(`lost: ${reason}`),
      onReconnected: () => said.push('back'),
      backoff: { initialMs: 5, maxMs: 20 },
    })
    t.teardown(() => watch.close())
    await waitFor(() => script.attempts === 1 && script.end, 'the first subscription')
    script.end?.(new EngineUnavailable('the engine closed its event stream'))
    await waitFor(() => script.attempts === 2, 'reopened')
    t.same(said, [], 'the engine answered the ping: not lost')

    script.up = false
    script.end?.(new EngineUnavailable('the engine closed its event stream'))
    await waitFor(() => script.attempts >= 6, 'retried with backoff')
    t.same(said, ['lost: the engine closed its event stream'], 'lost once, not per attempt')
    t.notOk(watch.connected())
    t.ok(watch.lost())
    script.up = true
    await waitFor(() => said.length === 2, 'back')
    t.same(said[1], 'back')
    t.ok(watch.connected())
  },
)

t.test(
  'an engine that answers pings but refuses the subscription is retried with backoff',
  async (t) => {
    const script: Script = { up: true, subscribe: false, attempts: 0 }
    const watch = createEngineWatch({
      engine: scriptedEngine(script),
      onProjects: () => {},
      onLost: () => t.fail('answering: not lost'),
      onReconnected: () => {},
      backoff: { initialMs: 40, maxMs: 40 },
    })
    const started = Date.now()
    await waitFor(() => script.attempts >= 3, 'three attempts')
    await watch.close()
    // Two waits of 40 ms separate three attempts: not a tight loop.
    t.ok(Date.now() - started >= 80, 'attempts are spaced by the backoff')
  },
)

t.test('DOCKER_HOST forms', async (t) => {
  t.same(parseDockerHost('unix:///var/run/docker.sock'), {
    origin: 'http://docker',
    socketPath: '/var/run/docker.sock',
    describe: '/var/run/docker.sock',
    shown: 'unix:///var/run/docker.sock',
  })
  t.same(parseDockerHost('tcp://10.0.0.5:2375'), {
    origin: 'http://10.0.0.5:2375',
    describe: '10.0.0.5:2375',
    shown: 'tcp://10.0.0.5:2375',
  })
  t.match(
    parseDockerHost('tcp://me-secret@10.0.0.5:2375'),
    { describe: '10.0.0.5:2375', shown: 'tcp://10.0.0.5:2375' },
    'what messages show has no user@',
  )
  t.same(parseDockerHost('tcp://[::1]:2375/').origin, 'http://[::1]:2375')
  for (const bad of [
    'ssh://me@host',
    'tcp://host',
    'tcp://host:0',
    'tcp://host:99999',
    'http://host:2375',
    'unix://relative.sock',
    '/var/run/docker.sock',
    'npipe:////./pipe/docker_engine',
  ])
    t.throws(
      () => parseDockerHost(bad),
      /must be unix:\/\/\/path\/to\/docker.sock or tcp:\/\/host:port/,
      bad,
    )
  const base = { GIT_REPO_URL: 'https://git.example.com/r.git', GIT_REVISION: 'main' }
  t.match(loadConfig(base), {
    dockerHost: 'unix:///var/run/docker.sock',
    dockerHostSource: 'default',
  })
  t.match(loadConfig({ ...base, DOCKER_SOCKET: '/run/d.sock' }), {
    dockerHost: 'unix:///run/d.sock',
    dockerHostSource: 'DOCKER_SOCKET',
  })
  t.match(
    loadConfig({ ...base, DOCKER_SOCKET: '/run/d.sock', DOCKER_HOST: 'tcp://proxy:2375' }),
    { dockerHost: 'tcp://proxy:2375', dockerHostSource: 'DOCKER_HOST' },
    'DOCKER_HOST wins, as for the docker CLI (and is the variable messages name)',
  )
  t.throws(
    () => loadConfig({ ...base, DOCKER_HOST: 'ssh://me@host' }),
    /DOCKER_HOST: must be unix:/,
  )
})
