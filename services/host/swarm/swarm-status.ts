import type { SwarmServiceView } from '../../../schemas/stack.js'
import { currentTasks, type SwarmNode, type SwarmService, type SwarmTask } from './swarm-api.js'

// Where each service of a stack stands on the swarm: replicas running out
// of wanted, and the task of each slot (or node) with the node it is on.
// Two things the task list alone would hide are said here:
// - a task on a node the manager no longer hears from (`down`) still reads
//   `running` (its node cannot report otherwise): it is not counted as
//   running, and the node's state is shown beside it;
// - a task `pending` because the scheduler finds no node for it (a node
//   went down and the rest may not take more: `max_replicas_per_node`,
//   constraints, resources) is not starting, it is stuck until a node
//   changes: the service is degraded, in the scheduler's own words.

/** Task states on the way to `running`. */
const STARTING = ['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting']

/** The scheduler's words for a task it cannot place (swarmkit: `no suitable node (…)`). */
const NO_SUITABLE_NODE = /no suitable node/i

/** What the task says when the scheduler cannot place it, or undefined. */
export function unschedulable(task: SwarmTask): string | undefined {
  if (task.state !== 'pending') return undefined
  return [task.error, task.message].find((words) => words && NO_SUITABLE_NODE.test(words))
}

/**
 * A node's name for people: `hostname address`, with the id's start when
 * another node has the same (cloned machines, nodes behind one NAT), or
 * the id's start alone when the node is not known.
 */
export function nodeLabel(nodes: readonly SwarmNode[], id: string): string {
  if (!id) return ''
  const named = (node: SwarmNode) => `${node.hostname} ${node.addr}`.trim()
  const node = nodes.find((n) => n.id === id)
  if (!node) return id.slice(0, 12)
  const twin = nodes.some((other) => other.id !== id && named(other) === named(node))
  return twin ? `${named(node)} (${id.slice(0, 12)})` : named(node)
}

/** Whether the manager hears from the node (a task there says what is true). */
const nodeUp = (nodes: readonly SwarmNode[], id: string) => {
  const node = nodes.find((n) => n.id === id)
  // Nodes not read (the read failed): the tasks are taken at their word.
  return !node || node.state === 'ready'
}

export type ReplicaCount = {
  running: number
  desired: number
  /** The tasks the scheduler cannot place, each with its words. */
  unplaced: { task: SwarmTask; words: string }[]
  /** Tasks the orchestrator wants running on nodes that are not up. */
  onDownNodes: SwarmTask[]
  /** Some task is on its way to running (on a node that is up). */
  starting: boolean
}

/** A service's replicas: running (on a node that is up) out of wanted, and why some are not. */
export function replicaCount(
  service: SwarmService,
  tasks: readonly SwarmTask[],
  nodes: readonly SwarmNode[] = [],
): ReplicaCount {
  const current = currentTasks(service, tasks)
  const up = current.filter((task) => !task.nodeId || nodeUp(nodes, task.nodeId))
  return {
    running: up.filter((task) => task.state === 'running').length,
    desired: service.replicas ?? current.length,
    unplaced: current.flatMap((task) => {
      const words = unschedulable(task)
      return words ? [{ task, words }] : []
    }),
    onDownNodes: current.filter((task) => task.nodeId && !nodeUp(nodes, task.nodeId)),
    starting: up.some((task) => STARTING.includes(task.state) && !unschedulable(task)),
  }
}

/** Why replicas are missing, in words (`2 pending: no suitable node (…)`, `2 on node … which is down`). */
export function missingWords(count: ReplicaCount, nodes: readonly SwarmNode[]): string[] {
  const words: string[] = []
  const byWords = new Map<string, number>()
  for (const { words: said } of count.unplaced) byWords.set(said, (byWords.get(said) ?? 0) + 1)
  for (const [said, n] of byWords) words.push(`${n} pending: ${said}`)
  const byNode = new Map<string, number>()
  for (const task of count.onDownNodes) byNode.set(task.nodeId, (byNode.get(task.nodeId) ?? 0) + 1)
  for (const [id, n] of byNode) {
    const state = nodes.find((node) => node.id === id)?.state ?? 'unknown'
    words.push(`${n} on node ${nodeLabel(nodes, id)}, which is ${state}`)
  }
  return words
}

/** Each service of the stack as GET /api/stacks/{name} and the dashboard show it. */
export function serviceViews(
  services: readonly SwarmService[],
  tasks: readonly SwarmTask[],
  nodes: readonly SwarmNode[],
): SwarmServiceView[] {
  return services.map((service) => {
    const count = replicaCount(service, tasks, nodes)
    const update = service.updateStatus
    return {
      name: service.name,
      mode: service.replicas === undefined ? 'global' : 'replicated',
      replicas: { running: count.running, desired: count.desired },
      ...(update ? { updateState: update.state } : {}),
      ...(update?.message ? { updateMessage: update.message } : {}),
      tasks: currentTasks(service, tasks)
        .sort(
          (a, b) =>
            (a.slot ?? 0) - (b.slot ?? 0) ||
            nodeLabel(nodes, a.nodeId).localeCompare(nodeLabel(nodes, b.nodeId)),
        )
        .map((task) => {
          const nodeState = nodes.find((node) => node.id === task.nodeId)?.state
          const error = task.error ?? (unschedulable(task) || undefined)
          return {
            ...(task.slot ? { slot: task.slot } : {}),
            node: nodeLabel(nodes, task.nodeId),
            ...(task.nodeId ? { nodeId: task.nodeId } : {}),
            ...(nodeState && nodeState !== 'ready' ? { nodeState } : {}),
            state: task.state,
            desiredState: task.desired,
            ...(error ? { error } : {}),
            since: task.timestamp,
          }
        }),
    }
  })
}
