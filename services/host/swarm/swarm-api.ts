import type { Engine } from '../docker-engine.js'

// What docker-cd reads of a swarm through the Engine API of a manager:
// whether the engine is one (`/info`), a stack's services (by the label
// `docker stack deploy` puts on them), their tasks and the nodes. Reads
// only; every change goes through the docker CLI (`docker stack`).

/** The label `docker stack deploy` puts on every service (and task) of a stack. */
export const STACK_LABEL = 'com.docker.stack.namespace'

/** The label docker-cd adds to each service it deploys: the work tree it was deployed from. */
export const WORK_TREE_LABEL = 'io.docker-cd.work-tree'

export type SwarmRole =
  | { kind: 'manager' }
  | { kind: 'worker' }
  /** Not in a swarm (`inactive`), or `pending`/`error`/`locked`: Swarm cannot be used. */
  | { kind: 'none'; state: string; error?: string }

export type UpdateState = {
  /** `updating`, `paused`, `completed`, `rollback_started`, `rollback_paused`, `rollback_completed`. */
  state: string
  message: string
  startedAt?: string
}

/** A service of a stack, as drift and the rollout read it. */
export type SwarmService = {
  id: string
  /** `<stack>_<service>`. */
  fullName: string
  /** The service's name in the Compose file. */
  name: string
  image: string
  /** Replicas wanted; undefined for a global service (one task per eligible node). */
  replicas?: number
  env: string[]
  labels: Record<string, string>
  /** The configs and secrets its containers get, by object name (content-names.ts). */
  configs?: string[]
  secrets?: string[]
  updateStatus?: UpdateState
  /** The container spec as JSON with sorted keys: a task runs the current spec when its own is equal. */
  specKey: string
}

export type SwarmTask = {
  id: string
  serviceId: string
  slot?: number
  nodeId: string
  /** What the orchestrator wants: `running`, `shutdown`, … */
  desired: string
  /** `new` … `starting`, `running`, `complete`, `failed`, `shutdown`, `rejected`, … */
  state: string
  /** The engine's error for a failed task (`task: non-zero exit (137): dockerexec: unhealthy container`). */
  error?: string
  message: string
  exitCode?: number
  timestamp: string
  specKey: string
}

export type SwarmNode = {
  id: string
  hostname: string
  role: string
  /** `ready`, `down`, `unknown`, `disconnected`. */
  state: string
  addr: string
  /** `active`, `pause`, `drain`: whether the scheduler places tasks there. */
  availability: string
  /** A manager that leads the Raft group. */
  leader?: boolean
}

type RawSpec = { ContainerSpec?: Record<string, unknown> }

/** JSON with its keys sorted, so two equal specs give one string whatever order the engine wrote. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`
  return JSON.stringify(value ?? null)
}

const specKeyOf = (spec: RawSpec | undefined) => canonical(spec?.ContainerSpec ?? {})

const filters = (value: Record<string, string[]>) => encodeURIComponent(JSON.stringify(value))

export function createSwarmApi(engine: Pick<Engine, 'read'>) {
  return {
    /** Whether the engine is an active manager, a worker, or not in a swarm. */
    async role(): Promise<SwarmRole> {
      const info = await engine.read<{
        Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; Error?: string }
      }>('/info')
      const state = info.Swarm?.LocalNodeState ?? 'inactive'
      if (state !== 'active')
        return { kind: 'none', state, ...(info.Swarm?.Error ? { error: info.Swarm.Error } : {}) }
      return info.Swarm?.ControlAvailable ? { kind: 'manager' } : { kind: 'worker' }
    },

    /** The engine's clock now (`/info` SystemTime): rollouts are compared with it, never with ours. */
    async now(): Promise<string> {
      return (await engine.read<{ SystemTime?: string }>('/info')).SystemTime ?? ''
    },

    /** Every service of a stack, by its namespace label, sorted by name; of every stack without one. */
    async services(stack?: string): Promise<SwarmService[]> {
      const raw = await engine.read<
        {
          ID: string
          Spec?: {
            Name?: string
            Labels?: Record<string, string>
            TaskTemplate?: RawSpec & {
              ContainerSpec?: {
                Image?: string
                Env?: string[]
                Configs?: { ConfigName?: string }[]
                Secrets?: { SecretName?: string }[]
              }
            }
            Mode?: { Replicated?: { Replicas?: number }; Global?: object }
          }
          UpdateStatus?: { State?: string; Message?: string; StartedAt?: string }
        }[]
      >(
        `/services?filters=${filters({ label: [stack === undefined ? STACK_LABEL : `${STACK_LABEL}=${stack}`] })}`,
      )
      return raw
        .map((service) => {
          const spec = service.Spec ?? {}
          const fullName = spec.Name ?? service.ID
          const namespace = stack ?? spec.Labels?.[STACK_LABEL] ?? ''
          const container = spec.TaskTemplate?.ContainerSpec ?? {}
          const replicas = spec.Mode?.Replicated ? (spec.Mode.Replicated.Replicas ?? 1) : undefined
          return {
            id: service.ID,
            fullName,
            name: fullName.startsWith(`${namespace}_`)
              ? fullName.slice(namespace.length + 1)
              : fullName,
            image: container.Image ?? '',
            ...(replicas !== undefined ? { replicas } : {}),
            env: container.Env ?? [],
            labels: spec.Labels ?? {},
            configs: (container.Configs ?? []).flatMap((c) => (c.ConfigName ? [c.ConfigName] : [])),
            secrets: (container.Secrets ?? []).flatMap((s) => (s.SecretName ? [s.SecretName] : [])),
            ...(service.UpdateStatus?.State
              ? {
                  updateStatus: {
                    state: service.UpdateStatus.State,
                    message: service.UpdateStatus.Message ?? '',
                    ...(service.UpdateStatus.StartedAt
                      ? { startedAt: service.UpdateStatus.StartedAt }
                      : {}),
                  },
                }
              : {}),
            specKey: specKeyOf(spec.TaskTemplate),
          }
        })
        .sort((a, b) => (a.fullName < b.fullName ? -1 : a.fullName > b.fullName ? 1 : 0))
    },

    /** The tasks of these services (every state the engine still keeps). */
    async tasks(serviceIds: readonly string[]): Promise<SwarmTask[]> {
      if (serviceIds.length === 0) return []
      const raw = await engine.read<
        {
          ID: string
          ServiceID?: string
          Slot?: number
          NodeID?: string
          DesiredState?: string
          Spec?: RawSpec
          Status?: {
            State?: string
            Err?: string
            Message?: string
            Timestamp?: string
            ContainerStatus?: { ExitCode?: number }
          }
        }[]
      >(`/tasks?filters=${filters({ service: [...serviceIds] })}`)
      return raw.map((task) => ({
        id: task.ID,
        serviceId: task.ServiceID ?? '',
        ...(task.Slot ? { slot: task.Slot } : {}),
        nodeId: task.NodeID ?? '',
        desired: task.DesiredState ?? '',
        state: task.Status?.State ?? 'unknown',
        ...(task.Status?.Err ? { error: task.Status.Err } : {}),
        message: task.Status?.Message ?? '',
        ...(task.Status?.ContainerStatus?.ExitCode !== undefined
          ? { exitCode: task.Status.ContainerStatus.ExitCode }
          : {}),
        timestamp: task.Status?.Timestamp ?? '',
        specKey: specKeyOf(task.Spec),
      }))
    },

    /** The swarm's nodes (names for messages: tasks say which node they run on). */
    async nodes(): Promise<SwarmNode[]> {
      const raw =
        await engine.read<
          {
            ID: string
            Description?: { Hostname?: string }
            Spec?: { Role?: string; Availability?: string }
            Status?: { State?: string; Addr?: string }
            ManagerStatus?: { Leader?: boolean }
          }[]
        >('/nodes')
      return raw.map((node) => ({
        id: node.ID,
        hostname: node.Description?.Hostname ?? node.ID.slice(0, 12),
        role: node.Spec?.Role ?? '',
        state: node.Status?.State ?? '',
        addr: node.Status?.Addr ?? '',
        availability: node.Spec?.Availability ?? '',
        ...(node.ManagerStatus?.Leader ? { leader: true } : {}),
      }))
    },
  }
}

export type SwarmApi = ReturnType<typeof createSwarmApi>

/** The task that stands for each slot now (global services: each node): the one the orchestrator wants running. */
export function currentTasks(service: SwarmService, tasks: readonly SwarmTask[]): SwarmTask[] {
  return tasks.filter((task) => task.serviceId === service.id && task.desired === 'running')
}

/** The last failure of a service's tasks, in the engine's words (the reason a rollout failed). */
export function lastFailure(
  service: SwarmService,
  tasks: readonly SwarmTask[],
  nodeName: (id: string) => string = (id) => id.slice(0, 12),
  /** Only failures from then on (the engine's clock, RFC 3339): older ones are an earlier deploy's. */
  since = '',
): string | undefined {
  const failed = tasks
    .filter(
      (task) =>
        task.serviceId === service.id &&
        task.timestamp >= since &&
        (task.error || task.state === 'failed' || task.state === 'rejected'),
    )
    .sort((a, b) => (a.timestamp < b.timestamp ? 1 : -1))[0]
  if (!failed) return undefined
  const where = `${service.fullName}.${failed.slot ?? failed.nodeId.slice(0, 12)}`
  return `task ${where} on node ${nodeName(failed.nodeId)} ${failed.state}: ${failed.error ?? failed.message}`
}
