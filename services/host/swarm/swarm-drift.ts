import type { StackHealth } from '../../../schemas/stack.js'
import type { PlanEntry } from '../compose.js'
import { composeDeployedFrom } from '../compose-runtime.js'
import type { EngineContainer } from '../docker-engine.js'
import type { StackHostState } from '../drift.js'
import type { DeployedFrom } from '../runtime.js'
import { CONTENT_LABEL, OBJECT_KINDS, versionOf } from './content-names.js'
import {
  type RenderedService,
  type RenderedStack,
  SPEC_LABEL,
  serviceSpecHash,
} from './stack-file.js'
import {
  currentTasks,
  lastFailure,
  type SwarmNode,
  type SwarmService,
  type SwarmTask,
  WORK_TREE_LABEL,
} from './swarm-api.js'
import { missingWords, replicaCount, serviceViews, unschedulable } from './swarm-status.js'

// Does the swarm run what Git says for one stack? The deployed services'
// specs are compared with Compose's rendering of the tree — image,
// replicas, environment (names only: values may be secrets) — and each
// service's tasks say its health: replicas running out of wanted, the
// update Swarm is in. A `docker service scale` or `update` by hand is
// drift, said per service and field.

/** One difference between a deployed service and the tree, in words. */
export type SpecDifference = { service: string; field: string; words: string }

/** `image@sha256:…` → `image`, unless the tree pins a digest itself. */
const withoutDigest = (image: string, tree: string) =>
  tree.includes('@') ? image : image.replace(/@sha256:[0-9a-f]+$/, '')

/** Compose's environment map as the `KEY=value` list the service spec holds (unset values left out, as the CLI does). */
export function envList(environment: Record<string, string | null> | undefined): string[] {
  return Object.entries(environment ?? {})
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([key, value]) => `${key}=${value}`)
    .sort()
}

/** What differs between the tree's services and the stack's services on the swarm. */
export function specDifferences(
  tree: RenderedStack,
  deployed: readonly SwarmService[],
): SpecDifference[] {
  const differences: SpecDifference[] = []
  const treeServices = tree.services ?? {}
  for (const [name, spec] of Object.entries(treeServices)) {
    const service = deployed.find((s) => s.name === name)
    if (!service) {
      differences.push({ service: name, field: 'service', words: 'has no Swarm service' })
      continue
    }
    const image = spec.image ?? ''
    if (withoutDigest(service.image, image) !== image)
      differences.push({
        service: name,
        field: 'image',
        words: `runs image ${withoutDigest(service.image, image)}, Git says ${image}`,
      })
    const global = spec.deploy?.mode === 'global'
    const replicas = spec.deploy?.replicas ?? 1
    if (global !== (service.replicas === undefined))
      differences.push({
        service: name,
        field: 'mode',
        words: `is ${service.replicas === undefined ? 'global' : 'replicated'}, Git says ${global ? 'global' : 'replicated'}`,
      })
    else if (!global && service.replicas !== replicas)
      differences.push({
        service: name,
        field: 'replicas',
        words: `has ${service.replicas} replicas, Git says ${replicas}`,
      })
    const wanted = envList(spec.environment)
    const running = [...service.env].sort()
    const keyOf = (entry: string) => entry.split('=')[0] as string
    const changed = [
      ...new Set(
        [
          ...wanted.filter((entry) => !running.includes(entry)),
          ...running.filter((entry) => !wanted.includes(entry)),
        ].map(keyOf),
      ),
    ].sort()
    if (changed.length > 0)
      differences.push({
        service: name,
        field: 'environment',
        words: `environment differs from Git (${changed.join(', ')})`,
      })
    differences.push(...objectDifferences(tree, name, spec, service))
    // Anything else of the service that changed in Git (a deploy by an older docker-cd has no label).
    const deployedSpec = service.labels[SPEC_LABEL]
    if (
      deployedSpec &&
      deployedSpec !== serviceSpecHash(spec) &&
      !differences.some((difference) => difference.service === name)
    )
      differences.push({
        service: name,
        field: 'spec',
        words:
          'runs another spec than Git says (a change such as its health check, command, ports or update_config)',
      })
  }
  for (const service of deployed)
    if (!(service.name in treeServices))
      differences.push({ service: service.name, field: 'service', words: 'is not in Git any more' })
  return differences
}

/**
 * The configs and secrets a deployed service names, against the tree's: a
 * content-named object (content-names.ts) in another version is said with
 * both versions (`uses config app_conf version 1a2b3c4d, Git says 5e6f7a8b`).
 */
export function objectDifferences(
  tree: RenderedStack,
  name: string,
  spec: RenderedService,
  service: SwarmService,
): SpecDifference[] {
  const differences: SpecDifference[] = []
  for (const kind of OBJECT_KINDS) {
    const deployed = service[`${kind}s`]
    if (!deployed) continue
    const section = (tree[`${kind}s`] ?? {}) as Record<
      string,
      { name?: string; labels?: Record<string, string> } | undefined
    >
    const refs = (spec[`${kind}s`] ?? []) as ({ source?: string } | string)[]
    const matched = new Set<string>()
    for (const ref of refs) {
      const key = typeof ref === 'string' ? ref : (ref.source ?? '')
      const wanted = section[key]?.name ?? key
      const hash = section[key]?.labels?.[CONTENT_LABEL]
      // The name without its hash: what every version of this object's name starts with.
      const base = hash ? wanted.slice(0, -(hash.length + 1)) : wanted
      const running = deployed.find(
        (object) => object === wanted || object === base || versionOf(object, base) !== undefined,
      )
      if (running) matched.add(running)
      if (running === wanted) continue
      const version = running && versionOf(running, base)
      differences.push({
        service: name,
        field: `${kind}s`,
        words: running
          ? `uses ${kind} ${key} ${version ? `version ${version}` : `as ${running}`}, Git says ${hash ?? wanted}`
          : `does not use ${kind} ${key}, Git says it does`,
      })
    }
    for (const object of deployed)
      if (!matched.has(object))
        differences.push({
          service: name,
          field: `${kind}s`,
          words: `uses ${kind} ${object}, which Git does not name`,
        })
  }
  return differences
}

/** The stack's health from its services' update states, tasks and nodes; undefined without services. */
export function swarmHealth(
  services: readonly SwarmService[],
  tasks: readonly SwarmTask[],
  nodes: readonly SwarmNode[] = [],
): StackHealth | undefined {
  if (services.length === 0) return undefined
  let health: StackHealth = 'healthy'
  for (const service of services) {
    const state = service.updateStatus?.state
    if (state === 'paused' || state === 'rollback_paused') return 'degraded'
    const count = replicaCount(service, tasks, nodes)
    if (state === 'updating' || state === 'rollback_started') health = 'progressing'
    else if (count.running < count.desired) {
      // Pending for want of a node is stuck until a node changes, not starting.
      if (count.unplaced.length > 0 || !count.starting) return 'degraded'
      health = 'progressing'
    }
  }
  return health
}

/** Each service's replicas in words, with why some are missing and its last task failure. */
export function replicaWords(
  services: readonly SwarmService[],
  tasks: readonly SwarmTask[],
  nodeName: (id: string) => string,
  nodes: readonly SwarmNode[] = [],
): string[] {
  return services.flatMap((service) => {
    const count = replicaCount(service, tasks, nodes)
    const { running, desired: wanted } = count
    if (running >= wanted && !service.updateStatus?.state.includes('paused')) return []
    // A task waiting for a node is said once, in `missing`, not as a failure.
    const failure = lastFailure(
      service,
      tasks.filter((task) => !unschedulable(task)),
      nodeName,
    )
    const missing = missingWords(count, nodes)
    return [
      `service ${service.name}: ${running}/${wanted} replicas running${missing.length > 0 ? ` (${missing.join('; ')})` : ''}${service.updateStatus?.state.includes('paused') ? ` (Swarm ${service.updateStatus.state.replace('_', ' ')}: ${service.updateStatus.message})` : ''}${failure ? `; last failure: ${failure}` : ''}`,
    ]
  })
}

/** The current tasks as the status shows containers: one per slot (or node), with its node. */
export function tasksAsContainers(
  services: readonly SwarmService[],
  tasks: readonly SwarmTask[],
  nodeName: (id: string) => string,
): EngineContainer[] {
  return services.flatMap((service) =>
    currentTasks(service, tasks)
      .map((task) => ({
        name: `${service.fullName}.${task.slot ?? nodeName(task.nodeId)}`,
        service: service.name,
        state: task.state,
        status: `${task.state} on node ${nodeName(task.nodeId)}${task.error ? ` (${task.error})` : ''}`,
        image: service.image,
        ...(service.labels[WORK_TREE_LABEL] ? { workingDir: service.labels[WORK_TREE_LABEL] } : {}),
        since: task.timestamp,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  )
}

/**
 * Where a stack's services say they were deployed from: docker-cd labels
 * each service it deploys with its work tree (stack-file.ts); a stack
 * without that label was deployed by someone else (`docker stack deploy`
 * by hand) and is never touched unless adopted.
 */
export function swarmDeployedFrom(
  check: { containers: readonly { workingDir?: string }[] },
  workTree: string,
): DeployedFrom {
  const from = composeDeployedFrom(check, workTree)
  if (from.kind !== 'elsewhere' || check.containers.some((task) => task.workingDir)) return from
  return {
    kind: 'elsewhere',
    workingDir: `a docker stack deploy without docker-cd's ${WORK_TREE_LABEL} label`,
  }
}

/** The state of a stack from its tree's rendering and what the swarm runs. */
export function swarmStackState(options: {
  stack: string
  tree: RenderedStack
  services: readonly SwarmService[]
  tasks: readonly SwarmTask[]
  nodeName: (id: string) => string
  /** The swarm's nodes (a task on a node that is down is not running); none when not read. */
  nodes?: readonly SwarmNode[]
}): StackHostState {
  const { stack, tree, services, tasks, nodeName } = options
  const nodes = options.nodes ?? []
  const containers = tasksAsContainers(services, tasks, nodeName)
  if (services.length === 0)
    return {
      status: 'missing',
      reason: `not deployed: no service of stack ${stack} exists on the swarm`,
      project: stack,
      plan: [],
      containers,
    }
  const differences = specDifferences(tree, services)
  const health = swarmHealth(services, tasks, nodes) ?? 'unknown'
  const replicas = replicaWords(services, tasks, nodeName, nodes)
  const plan: PlanEntry[] = differences.map((difference) => ({
    service: difference.service,
    container: `${stack}_${difference.service}`,
    action:
      difference.field === 'service'
        ? difference.words.startsWith('has no')
          ? 'create'
          : 'remove'
        : 'recreate',
  }))
  const said = differences.map((d) => `service ${d.service} ${d.words}`)
  return {
    status: differences.length === 0 ? 'synced' : 'out_of_sync',
    health,
    reason: [
      ...(differences.length === 0 ? ['the swarm runs what Git says'] : said),
      ...replicas,
    ].join('; '),
    project: stack,
    plan,
    containers,
    swarmServices: serviceViews(services, tasks, nodes),
  }
}
