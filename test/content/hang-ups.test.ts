import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import t from 'tap'
import { waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { isReady, serviceEnv, startService } from '../helpers/service.js'

// Clients that hang up on a streamed answer must never take the process
// down. Every stream of a pipeline (git's output, tar, gzip, the file view,
// the event feed) meets a destroyed socket here, at each point a client can
// leave: right after the response head, in the middle of the body, and on
// HEAD (the body is never sent). The built server runs as a process, so an
// uncaught stream error is seen as what it is in production: an exit.

const server = await startGitServer({ token: 'tok-hangups-3e8a' })
t.teardown(() => server.close())

const STACK = 'stack-00000'
const repo = createFixtureRepo(server, { stacks: 1, extraFilesPerStack: 20 })
// A body of a few hundred KiB even gzipped: a hang-up mid-body lands while
// git, tar and gzip are all still busy.
repo.writeFile(`${STACK}/big.txt`, randomBytes(384 * 1024).toString('base64'))
repo.commitAndPush('a large file')

type Leave = 'after-head' | 'mid-body' | 'head-method'

/**
 * One request over a bare socket that is destroyed at the chosen point.
 * Each client has a loopback address of its own (127.0.0.2–.9), so the
 * per-client download limit does not answer most of them with a 429.
 */
function hangUp(port: number, target: string, leave: Leave, client: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${2 + (client % 8)}` })
    let received = 0
    let headSeen = false
    let bodySeen = false
    const done = () => {
      socket.destroy()
      resolve(bodySeen)
    }
    // Last-Event-ID makes the event feed replay at once: a body to leave in.
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (!headSeen) {
        const end = chunk.indexOf('\r\n\r\n')
        if (end === -1) return
        headSeen = true
        // Right after the head (HEAD has nothing else to wait for).
        if (leave !== 'mid-body') return done()
        bodySeen = chunk.length - end - 4 > 0
        if (bodySeen) done()
        return
      }
      // The first piece of the body has arrived: the pipeline is running.
      bodySeen = received > 0
      done()
    })
    socket.on('error', done)
    socket.on('close', done)
    socket.write(
      `${leave === 'head-method' ? 'HEAD' : 'GET'} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: 0\r\n\r\n`,
    )
  })
}

const TARGETS = [
  `/api/stacks/${STACK}/archive`,
  `/api/stacks/${STACK}/compose`,
  `/ui/stacks/${STACK}/files/big.txt`,
  `/ui/stacks/${STACK}`,
  '/api/events',
]
const LEAVES: Leave[] = ['after-head', 'mid-body', 'head-method']
/** Per target and way of leaving; three clients at a time. */
const ROUNDS = 200
const CONCURRENCY = 3

// One service per target: a crash on one target does not hide the others.
for (const target of TARGETS) {
  t.test(target, async (t) => {
    const env = await serviceEnv(server, repo.url, { LOG_LEVEL: 'warn' })
    const port = Number(env.PORT)
    const base = `http://127.0.0.1:${port}`
    const service = startService(t, env)
    await waitFor(() => isReady(base), 'the service to become ready', 30_000)
    for (const leave of LEAVES) {
      let next = 0
      let withBody = 0
      const worker = async () => {
        while (next < ROUNDS && service.child.exitCode === null)
          if (await hangUp(port, target, leave, next++)) withBody++
      }
      await Promise.all(Array.from({ length: CONCURRENCY }, worker))
      t.equal(
        service.child.exitCode,
        null,
        `${ROUNDS} clients left ${leave}: still running (stderr: ${service.output.stderr.slice(-600)})`,
      )
      if (service.child.exitCode !== null) break
      // Otherwise "mid-body" could silently be "after the head" again.
      if (leave === 'mid-body')
        t.ok(withBody > 0, `${withBody} of them left with part of the body read`)
      t.ok(await isReady(base), `${leave}: readyz still answers`)
    }
    t.notMatch(
      service.output.stderr,
      /Emitted 'error' event|uncaught/i,
      'no stream error unhandled',
    )
  })
}
