import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { waitFor } from './build.js'
import { freePort } from './free-port.js'
import { type SecondEngine, startSecondEngine } from './second-engine.js'

// A real two-node Docker Swarm on this machine, made of two private
// engines (second-engine.ts: own sockets, data roots, containerd
// namespaces) — never the machine's own engine, which other tests use as a
// plain engine. The manager listens on 127.0.0.1, the worker on 127.0.0.2
// (both loopback), each on a free port. Services use the host network
// (`hostnet`, external, name: host): no overlay data plane is needed. Both
// engines hold the busybox test image (second-engine.ts loads it).

export type TestSwarm = {
  manager: SecondEngine
  worker: SecondEngine
  /** Node ids: the manager's and the worker's. */
  nodes: { manager: string; worker: string }
  close: () => Promise<void>
}

/** The lines of a stack's networks section: the host network, as Swarm services join it. */
export const HOST_NETWORK = 'networks:\n  hostnet:\n    external: true\n    name: host\n'

export async function startSwarm(): Promise<TestSwarm> {
  const manager = await startSecondEngine('swarm-manager')
  const worker = await startSecondEngine('swarm-worker').catch(async (error) => {
    await manager.close()
    throw error
  })
  try {
    const managerPort = await freePort()
    manager.docker(
      'swarm',
      'init',
      '--advertise-addr',
      '127.0.0.1',
      '--listen-addr',
      `127.0.0.1:${managerPort}`,
    )
    const token = manager.docker('swarm', 'join-token', '-q', 'worker')
    worker.docker(
      'swarm',
      'join',
      '--listen-addr',
      `127.0.0.2:${await freePort()}`,
      '--advertise-addr',
      '127.0.0.2',
      '--token',
      token,
      `127.0.0.1:${managerPort}`,
    )
    await waitFor(
      () =>
        manager
          .docker('node', 'ls', '--format', '{{.Status}}')
          .split('\n')
          .filter((status) => status === 'Ready').length === 2,
      'both nodes of the swarm to be ready',
      60_000,
    )
  } catch (error) {
    await Promise.all([worker.close(), manager.close()])
    throw error
  }
  const nodes = {
    manager: manager.docker('info', '--format', '{{.Swarm.NodeID}}'),
    worker: worker.docker('info', '--format', '{{.Swarm.NodeID}}'),
  }
  return {
    manager,
    worker,
    nodes,
    async close() {
      // Leaving first: the orchestrator stops replacing the containers that close() removes.
      for (const engine of [worker, manager])
        try {
          engine.docker('swarm', 'leave', '--force')
        } catch {}
      await Promise.all([worker.close(), manager.close()])
      // Swarm's network namespaces (the ingress sandbox) stay mounted under
      // the exec roots after the engines exit: unmounted, so the temp dirs go.
      for (const engine of [worker, manager]) unmountUnder(dirname(engine.socket))
    },
  }
}

function unmountUnder(root: string) {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((path) => path.startsWith(`${root}/`))
  for (const path of mounts.reverse())
    try {
      execFileSync('umount', ['-l', path], { stdio: 'ignore' })
    } catch {}
}

/** Why Swarm tests cannot run here (no docker CLI with `stack deploy` for unversioned files), or undefined. */
export function swarmUnavailable(): string | undefined {
  try {
    const version = execFileSync('docker', ['version', '--format', '{{.Client.Version}}'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    return Number(version.split('.')[0]) >= 23
      ? undefined
      : `the docker CLI is ${version}; Swarm stacks need 23 or newer`
  } catch {
    return 'no docker CLI'
  }
}
