import type { StackHealth, SwarmServiceView } from '../../schemas/stack.js'
import {
  type Compose,
  ComposeError,
  type ComposeModel,
  ComposeUnavailable,
  MODEL_FORMAT,
  type PlanEntry,
} from './compose.js'
import { type Engine, type EngineContainer, EngineUnavailable } from './docker-engine.js'
import {
  encryptedInDirectories,
  type FileChange,
  type FileChangeKind,
  fileChangePending,
  fileChangesOf,
  untrackedReads,
} from './file-changes.js'
import { digestsOf } from './image-watch.js'
import { readStackSettings, type StackSettings, withServiceNames } from './stack-settings.js'

// Does the host run what Git says for one stack, and if not, what exactly
// differs? Compose decides (its dry-run `up` plan); the engine tells the
// containers' state and health; this file only puts both into a status, a
// health and one sentence an operator understands.

/** `failed`: docker-cd refuses the stack's tree (work-trees.ts), or another stack picks its project name. */
export type HostStatus = 'missing' | 'synced' | 'out_of_sync' | 'unknown' | 'failed'

/** Something remembered per tree (services/host/work-trees.ts). */
export type Remembered<T> = { get(): Promise<T | undefined>; set(value: T): unknown }

export type StackHostState = {
  status: HostStatus
  health?: StackHealth
  reason: string
  project?: string
  plan: PlanEntry[]
  containers: EngineContainer[]
  /** The stack's `x-docker-cd` settings, once its model was read. */
  settings?: StackSettings
  /** What docker-cd does not track, in words (mounts from outside the stack directory). */
  notes?: string[]
  /** The services' image references, as Compose's model has them (image updates). */
  images?: ServiceImage[]
  /** SYNC_TARGET=swarm: each service's replicas and tasks per node (swarm/swarm-status.ts). */
  swarmServices?: SwarmServiceView[]
}

/** A service's image as the model names it, for image checks: pulled from a registry, not built here. */
export type ServiceImage = { service: string; reference: string; pullPolicy?: string }

/** What the image checks found for a stack (image-watch.ts). */
export type ImageFindings = {
  /** Services whose tag names another digest than the one their containers run. */
  moved: { service: string; reference: string; running: string; current: string }[]
  /** Asks that failed, in words (`image check failed: ...`). */
  problems: string[]
}

const ACTION_WORDS: Record<PlanEntry['action'], string> = {
  create: 'would be created: it has no container',
  recreate: 'would be recreated: its configuration differs from Git',
  start: 'would be started: its container is not running',
  remove: 'would be removed: Git no longer has this service',
  restart: 'would be restarted',
  rebuild: 'would be rebuilt and recreated',
  update: 'would be pulled and recreated: its image tag moved in the registry',
}

/** A digest as people compare them: the algorithm and 12 hex characters. */
export const shortDigest = (digest: string) =>
  digest.replace(/^(sha256:)?([0-9a-f]{12})[0-9a-f]*$/, '$1$2')

/** The health of a project's containers; undefined when it has none. */
export function healthOf(
  containers: readonly EngineContainer[],
  services: readonly string[],
): StackHealth | undefined {
  if (containers.length === 0) return undefined
  const states = containers.map((container) => container.state)
  if (
    states.some((state) => state === 'exited' || state === 'dead' || state === 'restarting') ||
    containers.some((container) => container.health === 'unhealthy') ||
    services.some((service) => !containers.some((container) => container.service === service))
  )
    return 'degraded'
  if (
    states.some((state) => state === 'created' || state === 'paused') ||
    containers.some((container) => container.health === 'starting')
  )
    return 'progressing'
  return states.every((state) => state === 'running') ? 'healthy' : 'unknown'
}

/**
 * The engine's status words without their age ("Exited (137) 2 minutes
 * ago" → "Exited (137)"): a reason is part of the stack's state, and one
 * that changed with the clock would be a new state at every re-check.
 */
const withoutAge = (status: string) =>
  status.replace(/\s+(?:less than a second|about an? \w+|\d+ \w+) ago$/i, '')

/** One sentence per planned change, with the container's own state where it explains it. */
export function reasonOf(plan: readonly PlanEntry[], containers: readonly EngineContainer[]) {
  const sentences = plan.map((entry) => {
    if (entry.image)
      return `image of service ${entry.service}: ${entry.image.reference} moved to ${shortDigest(entry.image.current)} in the registry (it runs ${shortDigest(entry.image.running)})`
    if (entry.files)
      return fileChangePending({
        service: entry.service,
        action: entry.action as FileChangeKind,
        files: entry.files,
      })
    const container = containers.find((c) => c.name === entry.container)
    const detail =
      entry.action === 'start' && container
        ? `would be started: container ${container.name} is ${withoutAge(container.status).toLowerCase() || container.state}`
        : ACTION_WORDS[entry.action]
    return `service ${entry.service} ${detail}`
  })
  // A service with several containers is one sentence for its files.
  return [...new Set(sentences)].join('; ')
}

/**
 * Compose's plan plus the services whose read files changed since the tree
 * their containers were created from (Compose's hash does not see them):
 * one entry per container, for a service Compose does not already create,
 * recreate or remove (a new container reads the new files).
 */
export function withFileChanges(
  plan: readonly PlanEntry[],
  changes: readonly FileChange[],
  containers: readonly EngineContainer[],
): PlanEntry[] {
  const replaced = new Set(
    plan.filter((entry) => entry.action !== 'start').map((entry) => entry.service),
  )
  const added = changes
    .filter((change) => !replaced.has(change.service))
    .flatMap((change) =>
      containers
        .filter((container) => container.service === change.service)
        .map((container) => ({
          service: change.service,
          container: container.name,
          action: change.action,
          files: change.files,
        })),
    )
  return [...plan, ...added]
}

/** Why two stacks with one project name fail (neither is evaluated, deployed or taken down). */
export const sharedProjectReason = (project: string, others: readonly string[]) =>
  `not evaluated or deployed: project name ${project} is also the project of ${others.map((s) => `stack ${s}`).join(', ')}; Compose would treat their containers as one project (give each a top-level name:)`

/** The state of a stack whose model Compose could not give (rethrows what is not Compose's). */
export function unreadModel(error: unknown): StackHostState {
  if (error instanceof ComposeUnavailable)
    return { status: 'unknown', reason: error.message, plan: [], containers: [] }
  if (!(error instanceof ComposeError)) throw error
  return {
    status: 'out_of_sync',
    reason: `Compose rejects the stack: ${error.message}`,
    plan: [],
    containers: [],
  }
}

/** Compose's model of the work tree in `dir`, remembered per tree (asked of Compose only when absent). */
export async function modelOf(options: {
  dir: string
  compose: Pick<Compose, 'model'>
  modelCache?: Remembered<ComposeModel>
}): Promise<ComposeModel> {
  const remembered = await options.modelCache?.get()
  // Remembered by a docker-cd that kept less of the model: asked again.
  const cached = remembered?.format === MODEL_FORMAT ? remembered : undefined
  const model = cached ?? (await options.compose.model(options.dir))
  if (!cached) await options.modelCache?.set(model)
  return model
}

/**
 * Status, health, plan and reason of the stack whose work tree is `dir`.
 * `claim` registers the project name Compose picked and answers which other
 * stacks picked it too: then neither is evaluated (their containers cannot
 * be told apart).
 */
export async function checkStack(options: {
  dir: string
  compose: Compose
  engine: Pick<Engine, 'projectContainers'>
  claim?: (project: string | undefined) => readonly string[]
  /** Where the model of this tree is remembered (asked of Compose only when absent). */
  modelCache?: Remembered<ComposeModel>
  /**
   * The last check of this tree and the engine's fingerprint then. With
   * `reuseLast`, a fingerprint unchanged since means Compose would answer
   * as it did, so its plan is not asked again (a restart with every stack
   * as it was runs no Compose). Every check is recorded.
   */
  lastCheck?: Remembered<{ fingerprint: string; state: StackHostState }>
  reuseLast?: boolean
  /**
   * The files (relative to the stack directory) that differ between the
   * tree the stack's containers were created from and this tree; undefined
   * when they were created from this tree, or it is not known.
   */
  changedSinceDeploy?: readonly string[]
  /** The stack's SOPS-encrypted files: links into SECRETS_DIR (notes). */
  encrypted?: readonly string[]
  /** What the image checks found for this stack, if they ran (image-watch.ts). */
  imageFindings?: ImageFindings
}): Promise<StackHostState> {
  let model: ComposeModel
  try {
    model = await modelOf(options)
  } catch (error) {
    options.claim?.(undefined)
    return unreadModel(error)
  }
  const settings = withServiceNames(
    readStackSettings(model.settings),
    Object.keys(model.services ?? {}),
  )
  const notes = [
    ...untrackedReads(model.reads),
    ...encryptedInDirectories(model.reads, options.encrypted ?? []),
  ]
  const state = await projectState(options, model)
  const changes = fileChangesOf(
    model.reads,
    options.changedSinceDeploy ?? [],
    settings.onFileChange,
  )
  const checked =
    changes.length > 0 && (state.status === 'synced' || state.status === 'out_of_sync')
      ? withChangedFiles(state, changes)
      : state
  const images = imagesOf(model)
  return {
    ...(options.imageFindings && (checked.status === 'synced' || checked.status === 'out_of_sync')
      ? withImageFindings(checked, options.imageFindings)
      : checked),
    settings,
    ...(notes.length > 0 ? { notes } : {}),
    ...(images.length > 0 ? { images } : {}),
  }
}

/** Services with an image from a registry: not built here (`build:`), not `pull_policy: never|build`. */
function imagesOf(model: ComposeModel): ServiceImage[] {
  return Object.entries(model.services ?? {})
    .filter(([, service]) => service.image && !service.build)
    .filter(([, service]) => service.pull_policy !== 'never' && service.pull_policy !== 'build')
    .map(([name, service]) => ({
      service: name,
      reference: service.image as string,
      ...(service.pull_policy ? { pullPolicy: service.pull_policy } : {}),
    }))
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0))
}

/**
 * A checked state with what the image checks found: a moved tag is an
 * `update` entry per container (for a service Compose does not already
 * replace), out of sync; a failed ask is said in the reason, the status
 * unchanged (the host still runs what it ran).
 */
export function withImageFindings(state: StackHostState, findings: ImageFindings): StackHostState {
  const replaced = new Set(
    state.plan.filter((entry) => entry.action !== 'start').map((entry) => entry.service),
  )
  // A service whose containers run the tag's current digest already (pulled
  // since the last round) has nothing pending.
  const runsCurrent = (moved: ImageFindings['moved'][number]) =>
    state.containers.some(
      (c) => c.service === moved.service && digestsOf(c).includes(moved.current),
    )
  const added: PlanEntry[] = findings.moved
    .filter((moved) => !replaced.has(moved.service) && !runsCurrent(moved))
    .flatMap((moved) =>
      state.containers
        .filter((container) => container.service === moved.service)
        .map((container) => ({
          service: moved.service,
          container: container.name,
          action: 'update' as const,
          image: { reference: moved.reference, running: moved.running, current: moved.current },
        })),
    )
  const plan = [...state.plan, ...added]
  const withPlan: StackHostState =
    added.length > 0
      ? { ...state, status: 'out_of_sync', plan, reason: reasonOf(plan, state.containers) }
      : state
  if (findings.problems.length === 0) return withPlan
  return { ...withPlan, reason: `${withPlan.reason}; ${findings.problems.join('; ')}` }
}

/** A checked state with the services whose files changed: out of sync, said per service and file. */
function withChangedFiles(state: StackHostState, changes: readonly FileChange[]): StackHostState {
  const plan = withFileChanges(state.plan, changes, state.containers)
  if (plan.length === state.plan.length) return state
  return { ...state, status: 'out_of_sync', plan, reason: reasonOf(plan, state.containers) }
}

/** The check once Compose's model is known: the project's containers and Compose's plan. */
async function projectState(
  options: Parameters<typeof checkStack>[0],
  model: ComposeModel,
): Promise<StackHostState> {
  const project = model.name
  const others = options.claim?.(project) ?? []
  if (others.length > 0)
    return {
      status: 'failed',
      reason: sharedProjectReason(project, others),
      project,
      plan: [],
      containers: [],
    }
  const services = Object.keys(model.services ?? {})
  try {
    const { containers, fingerprint } = await options.engine.projectContainers(project)
    if (containers.length === 0)
      return {
        status: 'missing',
        reason: `not deployed: no container of project ${project} exists`,
        project,
        plan: [],
        containers,
      }
    const last = options.reuseLast ? await options.lastCheck?.get() : undefined
    if (last && last.fingerprint === fingerprint && last.state.project === project)
      return { ...last.state, containers }
    const plan = await options.compose.plan(options.dir, model)
    const health = healthOf(containers, services) ?? 'unknown'
    const state: StackHostState =
      plan.length === 0
        ? {
            status: 'synced',
            health,
            reason: 'the host runs what Git says',
            project,
            plan,
            containers,
          }
        : {
            status: 'out_of_sync',
            health,
            reason: reasonOf(plan, containers),
            project,
            plan,
            containers,
          }
    await options.lastCheck?.set({ fingerprint, state })
    return state
  } catch (error) {
    if (error instanceof EngineUnavailable)
      return {
        status: 'unknown',
        reason: `engine unreachable: ${error.message}`,
        project,
        plan: [],
        containers: [],
      }
    if (error instanceof ComposeError)
      return {
        status: 'unknown',
        reason: `Compose could not plan: ${error.message}`,
        project,
        plan: [],
        containers: [],
      }
    throw error
  }
}
