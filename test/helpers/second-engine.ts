import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { waitFor } from './build.js'
import { TEST_IMAGE } from './docker.js'
import { tempDir } from './temp-dir.js'

// A second, private Docker engine for tests that stop it mid-test: its own
// socket, data and exec roots and containerd namespaces, no bridge and no
// iptables (so it never touches the machine's engine or network). Stopped
// and started again on the same data root, as an operator's engine restart.

export type SecondEngine = {
  socket: string
  /** `docker -H unix://<socket> …`; returns stdout. */
  docker: (...args: string[]) => string
  /** The environment for a `docker compose` run against this engine. */
  env: NodeJS.ProcessEnv
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Removes its containers and stops it (test teardown). */
  close: () => Promise<void>
}

/** `name` tells several private engines of one test apart (their containerd namespaces). */
export async function startSecondEngine(name = ''): Promise<SecondEngine> {
  const root = tempDir('docker-cd-engine2-')
  const socket = join(root, 'docker.sock')
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}` }
  let daemon: ChildProcess | undefined
  const docker = (...args: string[]) =>
    execFileSync('docker', args, { env, encoding: 'utf8', stdio: 'pipe' }).trim()
  const answers = () => {
    try {
      docker('version', '--format', '{{.Server.Version}}')
      return true
    } catch {
      return false
    }
  }

  async function start() {
    const ns = `docker-cd-test-${process.pid}${name ? `-${name}` : ''}`
    daemon = spawn(
      'dockerd',
      [
        '-H',
        `unix://${socket}`,
        '--data-root',
        join(root, 'data'),
        '--exec-root',
        join(root, 'exec'),
        '--pidfile',
        join(root, 'dockerd.pid'),
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
        '--containerd-namespace',
        ns,
        '--containerd-plugins-namespace',
        `${ns}-plugins`,
      ],
      { stdio: 'ignore' },
    )
    // Never outlive the test process, whatever way it ends.
    const started = daemon
    process.once('exit', () => started.kill('SIGKILL'))
    await waitFor(answers, 'the second engine to answer', 30_000)
  }

  async function stop() {
    const running = daemon
    if (!running || running.exitCode !== null) return
    const exited = new Promise((resolve) => running.once('exit', resolve))
    running.kill('SIGTERM')
    await exited
  }

  await start()
  // Docker Hub is not reachable: the test image comes from the main engine.
  execFileSync('sh', ['-c', `docker save ${TEST_IMAGE} | docker -H unix://${socket} load -q`])
  return {
    socket,
    docker,
    env,
    start,
    stop,
    async close() {
      if (daemon?.exitCode === null) {
        const ids = docker('ps', '-aq').split('\n').filter(Boolean)
        try {
          if (ids.length > 0) docker('rm', '-f', ...ids)
        } catch {
          // Removed meanwhile: a node that left its swarm removes its tasks' containers itself.
        }
      }
      await stop()
    },
  }
}

// The forwarder runs in a process of its own: tests call docker
// synchronously, which would stall a forwarder on their own event loop.
const FORWARDER = `
const net = require('node:net')
const server = net.createServer((client) => {
  const upstream = net.connect(process.argv[1])
  client.pipe(upstream).pipe(client)
  const end = () => { client.destroy(); upstream.destroy() }
  client.on('error', end).on('close', end)
  upstream.on('error', end).on('close', end)
})
server.listen(0, '127.0.0.1', () => console.log(server.address().port))
process.stdin.on('end', () => process.exit(0)).resume()
`

/** A TCP port on loopback that forwards to a unix socket: DOCKER_HOST=tcp:// for real. */
export async function tcpToUnix(socketPath: string) {
  const child = spawn(process.execPath, ['-e', FORWARDER, socketPath], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (data: Buffer) => resolve(data.toString().trim()))
    child.once('exit', () => reject(new Error('the forwarder exited')))
  })
  return {
    dockerHost: `tcp://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.stdin.end()
      }),
  }
}
