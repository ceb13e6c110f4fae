import { join } from 'node:path'
import t from 'tap'
import { waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { isReady, serviceEnv, startService } from '../helpers/service.js'
import { tempDir } from '../helpers/temp-dir.js'

// The built service with DOCKER_HOST at a socket that does not exist: it
// starts (an absent engine never stops it), and every place that reports
// the engine — the startup log line, the status page, /api/host, each
// stack's reason — says which address could not be reached and names
// DOCKER_HOST, in words ("no such socket", not ENOENT).

const TOKEN = 'tok-engine-msg-51d0'
const git = await startGitServer({ token: TOKEN })
t.teardown(() => git.close())

t.test('an engine socket that does not exist is named with DOCKER_HOST', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const socket = join(tempDir(`msg-${process.pid}-`), 'absent', 'docker.sock')
  const expected = `cannot reach the Docker engine at unix://${socket} (DOCKER_HOST): no such socket`
  const env = await serviceEnv(git, repo.url, {
    DOCKER_HOST: `unix://${socket}`,
    SYNC_MODE: 'detect',
  })
  const service = startService(t, env)
  const base = `http://127.0.0.1:${env.PORT}`

  const logged = await waitFor(
    () =>
      service.output.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .find((line) => line.msg.startsWith('engine unreachable')),
    'the engine-unreachable log line',
  )
  t.equal(logged.msg, `engine unreachable: ${expected}; stacks are unknown until it answers again`)
  t.equal(logged.level, 40, 'a warning')

  await waitFor(() => isReady(base), 'the service to be ready')
  const page = await (await fetch(`${base}/`)).text()
  t.match(page, `containers:       unavailable: ${expected}\n`)

  const host = (await (await fetch(`${base}/api/host`)).json()) as {
    engine: { reachable: boolean; reason: string }
  }
  t.match(host.engine, { reachable: false, reason: expected })

  const [stack] = await waitFor(async () => {
    const stacks = (await (await fetch(`${base}/api/stacks`)).json()) as {
      status: string
      reason?: string
    }[]
    return stacks[0]?.reason ? stacks : undefined
  }, 'the stack to be checked')
  t.match(stack, { status: 'unknown', reason: `engine unreachable: ${expected}` })

  t.notMatch(service.output.stdout + service.output.stderr, TOKEN, 'the token is not logged')
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
})
