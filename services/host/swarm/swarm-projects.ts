import type { EngineProject } from '../docker-engine.js'
import { STACK_LABEL, type SwarmApi } from './swarm-api.js'
import { tasksAsContainers } from './swarm-drift.js'
import { nodeLabel } from './swarm-status.js'

// GET /api/host and the status page on a swarm: every stack on it as the
// overview lists Compose projects — its tasks as containers, with the work
// tree docker-cd labelled its services with (none: deployed by hand, the
// operator's own, listed and never touched). Containers of stack tasks
// carry no Compose label, so the engine's own project list is empty here.
// Three reads (services, tasks, nodes), only when someone asks.

export async function swarmProjects(
  api: Pick<SwarmApi, 'services' | 'tasks' | 'nodes'>,
): Promise<EngineProject[]> {
  const services = await api.services()
  const [tasks, nodes] = await Promise.all([
    api.tasks(services.map((service) => service.id)),
    api.nodes().catch(() => []),
  ])
  const stacks = [...new Set(services.map((service) => service.labels[STACK_LABEL] ?? ''))].sort()
  return stacks.map((name) => ({
    name,
    containers: tasksAsContainers(
      services.filter((service) => service.labels[STACK_LABEL] === name),
      tasks,
      (id) => nodeLabel(nodes, id) || id.slice(0, 12),
    ),
  }))
}
