import { join } from 'node:path'
import {
  type Compose,
  ComposeError,
  type ComposeModel,
  type Engine,
  EngineUnavailable,
  type HostCheck,
  WorkTreeError,
  type WorkTrees,
} from '../host/index.js'
import { short } from './decide.js'
import type { DeployRecord, SyncResult, TreeRef } from './records.js'

// One sync run of one stack, as a short list of named steps in its work
// tree (the reconciler owns the queue, the records and the status):
// validate → pull → up (and wait), and on a failed `up` the rollback to the
// last good tree. Each step reports its phase; each failure says whose it
// is: the tree's (not retried until it changes) or the engine's (retried).

export type SyncPhase =
  | 'queued'
  | 'validate'
  | 'pull'
  | 'up'
  | 'wait'
  | 'rollback'
  | 'completed'
  | 'failed'
  | 'deleting'
  | 'deleted'

/** Why a failure is the engine's (retried with backoff), not the tree's. */
const TRANSIENT =
  /Cannot connect to the Docker daemon|Is the docker daemon running|connection refused|no such host|i\/o timeout/i

export type SyncOutcome = {
  result: SyncResult
  reason: string
  servicesChanged: string[]
  project?: string
  error?: string
  rolledBackTo?: TreeRef
  /** The failure is the tree's own (not retried until it changes). */
  tree?: true
}

export function createSyncSteps(options: {
  workTrees: Pick<WorkTrees, 'ensure' | 'treeRecord'>
  compose: Pick<Compose, 'validate' | 'model' | 'pull' | 'up'>
  engine: Pick<Engine, 'imagePresent'>
  stacksDir: string
  /** SYNC_TIMEOUT in seconds (`--wait-timeout`). */
  waitSeconds: number
  /** Aborted on shutdown: Compose is stopped. */
  signal: AbortSignal
}) {
  const { waitSeconds, signal } = options

  /** validate → pull → up (and wait) → rollback on failure. */
  async function run(
    path: string,
    tree: string,
    before: DeployRecord | undefined,
    checkBefore: HostCheck | undefined,
    phase: (name: SyncPhase, message: string) => void,
  ): Promise<SyncOutcome> {
    let model: ComposeModel | undefined
    let dir = join(options.stacksDir, path)
    const failed = (
      error: unknown,
      what: string,
      extra: Partial<SyncOutcome> = {},
    ): SyncOutcome => {
      const message = (error as Error).message
      const transient = error instanceof EngineUnavailable || TRANSIENT.test(message)
      if (signal.aborted)
        return {
          result: 'interrupted',
          reason: `${what} stopped: docker-cd is shutting down`,
          servicesChanged: [],
          ...extra,
        }
      return {
        result: 'failed',
        reason: `${what} failed: ${message}`,
        error: message,
        servicesChanged: [],
        ...(model ? { project: model.name } : {}),
        ...(transient ? {} : { tree: true as const }),
        ...extra,
      }
    }
    try {
      phase('validate', 'checking the Compose file')
      dir = (await options.workTrees.ensure(path, tree)).dir
      await options.compose.validate(dir)
      const cache = options.workTrees.treeRecord<ComposeModel>(path, tree, 'model')
      model = (await cache.get()) ?? (await options.compose.model(dir))
      await cache.set(model)
    } catch (error) {
      return failed(
        error,
        'validation',
        error instanceof ComposeError
          ? { reason: `Compose rejects the stack: ${error.message}` }
          : error instanceof WorkTreeError && error.kind === 'tree'
            ? { reason: `docker-cd refuses the stack's tree: ${error.message}` }
            : { tree: undefined }, // reading Git or writing the files failed: not the tree's fault
      )
    }
    const services = Object.keys(model.services)
    const servicesChanged =
      !checkBefore || checkBefore.status === 'missing' || checkBefore.plan.length === 0
        ? services
        : [...new Set(checkBefore.plan.map((entry) => entry.service))]
    try {
      const toPull = await imagesToPull(model)
      phase('pull', toPull.length ? `pulling ${toPull.join(', ')}` : 'every image is present')
      await options.compose.pull(dir, toPull, signal)
    } catch (error) {
      return failed(error, 'pull')
    }
    try {
      phase('up', `docker compose up -d --remove-orphans --wait (at most ${waitSeconds}s)`)
      await options.compose.up(dir, waitSeconds, signal, () =>
        phase('wait', 'waiting for every service to run and be healthy'),
      )
      return {
        result: 'completed',
        reason: `deployed tree ${short(tree)}: ${servicesChanged.length ? `changed ${servicesChanged.join(', ')}` : 'nothing to change'}`,
        servicesChanged,
        project: model.name,
      }
    } catch (error) {
      const outcome = failed(error, 'up', { servicesChanged })
      if (outcome.result !== 'failed' || !outcome.tree) return outcome
      const good = before?.deployedTreeHash
      if (!good || good === tree) return outcome
      const target = { revision: before?.deployedRevision ?? '', treeHash: good }
      phase('rollback', `re-applying tree ${short(good)} (revision ${short(target.revision)})`)
      try {
        await options.workTrees.ensure(path, good)
        await options.compose.up(dir, waitSeconds, signal)
        return { ...outcome, rolledBackTo: target }
      } catch (rollbackError) {
        return {
          ...outcome,
          error: `${outcome.error}; the rollback to tree ${short(good)} failed too: ${(rollbackError as Error).message}`,
        }
      }
    }
  }

  /** The images to pull, by each service's `pull_policy` (default: when missing). */
  async function imagesToPull(model: ComposeModel): Promise<string[]> {
    const pulls: string[] = []
    for (const [service, spec] of Object.entries(model.services)) {
      const policy = spec.pull_policy ?? 'missing'
      if (!spec.image || policy === 'never' || policy === 'build') continue
      if (policy === 'always' || !(await options.engine.imagePresent(spec.image))) {
        if (spec.build && policy !== 'always') continue // Compose builds it in `up`
        pulls.push(service)
      }
    }
    return pulls.sort()
  }

  return { run }
}

export type SyncSteps = ReturnType<typeof createSyncSteps>
