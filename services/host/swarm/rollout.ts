import { ComposeError } from '../compose.js'
import {
  currentTasks,
  lastFailure,
  type SwarmApi,
  type SwarmService,
  type SwarmTask,
} from './swarm-api.js'

// `docker stack deploy` returns once the manager accepted the new specs
// (bookworm's CLI has no `--detach=false`, and the newer CLI's progress
// output is for people). What it started is watched here, to its end,
// through the Engine API: each service's UpdateStatus (Swarm's own update
// machinery: `paused` after a failed task, `rollback_*` when the service
// asks Swarm to roll back) and its tasks — every slot has a task that runs
// the service's current container spec, is `running` (a task with a
// health check stays `starting` until it is healthy) — bounded by
// SYNC_TIMEOUT. A failure is never reported as success: the reason is
// Swarm's message plus the last task error in the engine's words.

/** A rollout that did not end with every service running what it was given. */
export class RolloutFailed extends ComposeError {
  constructor(message: string) {
    super(message)
    this.name = 'RolloutFailed'
  }
}

/** How often the engine is asked while a rollout runs (a read of services and tasks costs ~1 ms). */
const POLL_MS = 250

/** What one look at a service says: done, still rolling, or failed (with the reason). */
export type ServiceRollout =
  | { kind: 'done' }
  | { kind: 'rolling'; words: string }
  | { kind: 'failed'; reason: string }

/** Where one service's rollout is, from its update status and its tasks. */
export function serviceRollout(
  service: SwarmService,
  tasks: readonly SwarmTask[],
  nodeName: (id: string) => string = (id) => id.slice(0, 12),
  since = '',
): ServiceRollout {
  const failure = () => {
    const last = lastFailure(service, tasks, nodeName, since)
    return last ? `; ${last}` : ''
  }
  const update = service.updateStatus
  if (update?.state === 'paused' || update?.state === 'rollback_paused')
    return {
      kind: 'failed',
      reason: `service ${service.name}: Swarm ${update.state === 'paused' ? 'paused the update' : 'paused the rollback'} (${update.message})${failure()}`,
    }
  if (update?.state === 'rollback_completed')
    return {
      kind: 'failed',
      reason: `service ${service.name}: Swarm rolled the update back (${update.message})${failure()}`,
    }
  if (update?.state === 'updating' || update?.state === 'rollback_started')
    return { kind: 'rolling', words: `service ${service.name}: ${update.state.replace('_', ' ')}` }
  const current = currentTasks(service, tasks)
  const ready = current.filter(
    (task) => task.state === 'running' && task.specKey === service.specKey,
  )
  const wanted = service.replicas ?? Math.max(current.length, 1)
  if (ready.length >= wanted && current.length <= wanted) return { kind: 'done' }
  return {
    kind: 'rolling',
    words: `service ${service.name}: ${ready.length}/${wanted} replicas running${failure()}`,
  }
}

/**
 * Waits until every service of the stack runs what `docker stack deploy`
 * just gave it, at most `waitSeconds`; rejects with RolloutFailed (the
 * services' and tasks' reasons) when Swarm gives up or the time is over.
 */
export async function watchRollout(options: {
  api: Pick<SwarmApi, 'services' | 'tasks' | 'nodes'>
  stack: string
  /** The services the tree has (a service the engine lacks is not done). */
  services: readonly string[]
  waitSeconds: number
  signal: AbortSignal
  /** When the deploy began, on the engine's clock: task failures before it are not this rollout's. */
  since: string
}): Promise<void> {
  const { api, stack, signal } = options
  const deadline = Date.now() + options.waitSeconds * 1000
  const names = new Map<string, string>()
  const nodeName = (id: string) => names.get(id) ?? id.slice(0, 12)
  for (;;) {
    if (signal.aborted) throw new ComposeError('stopped: docker-cd is shutting down')
    const services = await api.services(stack)
    const tasks = await api.tasks(services.map((service) => service.id))
    if (names.size === 0)
      for (const node of await api.nodes().catch(() => []))
        names.set(node.id, `${node.hostname} ${node.addr}`.trim())
    const looks = options.services.map((name) => {
      const service = services.find((s) => s.name === name)
      return service
        ? serviceRollout(service, tasks, nodeName, options.since)
        : ({ kind: 'rolling', words: `service ${name}: not created yet` } as const)
    })
    const failed = looks.flatMap((look) => (look.kind === 'failed' ? [look.reason] : []))
    if (failed.length > 0) throw new RolloutFailed(failed.join('; '))
    const rolling = looks.flatMap((look) => (look.kind === 'rolling' ? [look.words] : []))
    if (rolling.length === 0) return
    if (Date.now() >= deadline)
      throw new RolloutFailed(`not converged within ${options.waitSeconds}s: ${rolling.join('; ')}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}
