import { join } from 'node:path'
import {
  type Compose,
  ComposeError,
  type ComposeModel,
  type Engine,
  type HostCheck,
  WorkTreeError,
  type WorkTrees,
} from '../host/index.js'
import { short } from './decide.js'
import { type FailureKind, failureKind } from './failure.js'
import { readBackProblems, restartsOf } from './read-back.js'
import type { SyncResult, TreeRef } from './records.js'

// One sync run of one stack, as a short list of named steps in its work
// tree (the reconciler owns the queue, the records and the status):
// validate → pull → up (and wait) → read back, and on a failed `up` or
// read-back the rollback to the last good tree. Each step reports its
// phase; each failure says whose it is (failure.ts): the tree's (not
// retried until it changes) or the engine's / docker-cd's (retried).

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

export type SyncOutcome = {
  result: SyncResult
  reason: string
  servicesChanged: string[]
  project?: string
  error?: string
  rolledBackTo?: TreeRef
  /** Whose failure it is: the tree's own is not retried until the tree changes. */
  failure?: FailureKind
}

/** A read-back that did not pass: the deploy failed (the tree's failure). */
class ReadBackFailed extends Error {}

export function createSyncSteps(options: {
  workTrees: Pick<WorkTrees, 'ensure' | 'treeRecord'>
  compose: Pick<Compose, 'validate' | 'model' | 'pull' | 'up'>
  engine: Pick<Engine, 'imagePresent' | 'ping' | 'inspectProject'>
  stacksDir: string
  /** SYNC_TIMEOUT in seconds (`--wait-timeout`). */
  waitSeconds: number
  /** Aborted on shutdown: Compose is stopped. */
  signal: AbortSignal
}) {
  const { waitSeconds, signal } = options

  /** validate → pull → up (and wait) → read back → rollback on failure. */
  async function run(
    path: string,
    tree: string,
    /** The last good tree (what a rollback returns to), if any. */
    rollbackTo: TreeRef | undefined,
    checkBefore: HostCheck | undefined,
    phase: (name: SyncPhase, message: string) => void,
    /** Called (and awaited) right before `up` changes the host: the deploy is written down as in progress. */
    beforeUp: () => Promise<void> = async () => {},
  ): Promise<SyncOutcome> {
    let model: ComposeModel | undefined
    let dir = join(options.stacksDir, path)
    const failed = async (
      error: unknown,
      what: string,
      extra: Partial<SyncOutcome> = {},
    ): Promise<SyncOutcome> => {
      const message = (error as Error).message
      if (signal.aborted)
        return {
          result: 'interrupted',
          reason: `${what} stopped: docker-cd is shutting down`,
          servicesChanged: [],
          ...extra,
        }
      const failure =
        error instanceof ReadBackFailed ? 'tree' : await failureKind(error, options.engine.ping)
      return {
        result: 'failed',
        reason: `${what} failed: ${message}`,
        error: message,
        servicesChanged: [],
        ...(model ? { project: model.name } : {}),
        failure,
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
            ? { reason: `docker-cd refuses the stack's tree: ${error.message}`, failure: 'tree' }
            : { failure: 'local' }, // reading Git or writing the files failed: not the tree's fault
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
    const project = model.name
    let restartsBefore: ReturnType<typeof restartsOf>
    try {
      restartsBefore = restartsOf(await options.engine.inspectProject(project))
    } catch (error) {
      return failed(error, 'reading the host before up')
    }
    try {
      await beforeUp()
    } catch (error) {
      // The host is untouched; docker-cd's own side failed (retried with back-off).
      return failed(error, 'writing the deploy record before up', { failure: 'local' })
    }
    try {
      phase('up', `docker compose up -d --remove-orphans --wait (at most ${waitSeconds}s)`)
      await options.compose.up(dir, waitSeconds, signal, () =>
        phase('wait', 'waiting for every service to run and be healthy'),
      )
      await readBack(project, services, restartsBefore)
      return {
        result: 'completed',
        reason: `deployed tree ${short(tree)}: ${servicesChanged.length ? `changed ${servicesChanged.join(', ')}` : 'nothing to change'}`,
        servicesChanged,
        project: model.name,
      }
    } catch (error) {
      const outcome = await failed(error, error instanceof ReadBackFailed ? 'read-back' : 'up', {
        servicesChanged,
      })
      if (outcome.result !== 'failed' || outcome.failure !== 'tree') return outcome
      const good = rollbackTo?.treeHash
      if (!rollbackTo || !good || good === tree) return outcome
      const target = rollbackTo
      phase('rollback', `re-applying tree ${short(good)} (revision ${short(target.revision)})`)
      try {
        await options.workTrees.ensure(path, good)
        const goodModel = await options.compose.model(dir)
        await options.compose.up(dir, waitSeconds, signal)
        await readBack(goodModel.name, Object.keys(goodModel.services), restartsBefore)
        return { ...outcome, rolledBackTo: target }
      } catch (rollbackError) {
        return {
          ...outcome,
          error: `${outcome.error}; the rollback to tree ${short(good)} failed too: ${(rollbackError as Error).message}`,
        }
      }
    }
  }

  /** The health gate: every service runs (and is healthy where it has a check); throws ReadBackFailed. */
  async function readBack(
    project: string,
    services: string[],
    restartsBefore: ReturnType<typeof restartsOf>,
  ) {
    const problems = readBackProblems(
      services,
      await options.engine.inspectProject(project),
      restartsBefore,
    )
    if (problems.length > 0) throw new ReadBackFailed(problems.join('; '))
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
