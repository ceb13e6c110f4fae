import type { Engine, EngineProject } from './docker-engine.js'
import type { SwarmNode } from './swarm/swarm-api.js'

// GET /api/host and the status page: the engine, and every Compose project
// on it, each with the stack it belongs to — or none: then it is the
// operator's own (deployed by hand, or by another tool) and docker-cd only
// lists it. Read live from the engine at each request (one list call), so
// it is never stale and costs nothing while nobody asks.

export type HostProject = {
  name: string
  /** The stack whose Compose project this is; absent for the operator's own projects. */
  stack?: string
  workingDir?: string
  containers: number
  running: number
}

export type HostNode = {
  id: string
  hostname: string
  role: string
  availability: string
  state: string
  address: string
  leader?: boolean
}

export type HostOverview = {
  engine: { address: string; reachable: boolean; reason?: string; eventsConnected?: boolean }
  /** SYNC_TARGET=swarm: the swarm's nodes. */
  nodes?: HostNode[]
  projects: HostProject[]
}

export async function hostOverview(options: {
  engine: Pick<Engine, 'projects' | 'describe'>
  /** The stack of a project name, when exactly one stack has it (SYNC_MODE=detect). */
  stackOf: (project: string) => string | undefined
  eventsConnected?: boolean
  /** The projects, when not the engine's Compose projects (SYNC_TARGET=swarm: its stacks). */
  projects?: () => Promise<EngineProject[]>
  /** SYNC_TARGET=swarm: reads the swarm's nodes; undefined for Compose. */
  swarmNodes?: () => Promise<SwarmNode[]> | undefined
}): Promise<HostOverview> {
  const address = options.engine.describe
  const events =
    options.eventsConnected === undefined ? {} : { eventsConnected: options.eventsConnected }
  try {
    const [projects, nodes] = await Promise.all([
      options.projects ? options.projects() : options.engine.projects(),
      options.swarmNodes?.(),
    ])
    return {
      engine: { address, reachable: true, ...events },
      ...(nodes
        ? {
            nodes: nodes.map(({ addr, leader, ...node }) => ({
              ...node,
              address: addr,
              ...(leader ? { leader } : {}),
            })),
          }
        : {}),
      projects: projects.map((project) => {
        const stack = options.stackOf(project.name)
        const workingDir = project.containers.find((c) => c.workingDir)?.workingDir
        return {
          name: project.name,
          ...(stack ? { stack } : {}),
          ...(workingDir ? { workingDir } : {}),
          containers: project.containers.length,
          running: project.containers.filter((c) => c.state === 'running').length,
        }
      }),
    }
  } catch (error) {
    return {
      engine: { address, reachable: false, reason: (error as Error).message, ...events },
      projects: [],
    }
  }
}
