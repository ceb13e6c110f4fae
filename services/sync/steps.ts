import { join } from 'node:path'
import {
  ComposeError,
  type ComposeModel,
  type HostCheck,
  modelOf,
  type StackRuntime,
  WorkTreeError,
  type WorkTrees,
} from '../host/index.js'
import { short } from './decide.js'
import { type FailedStep, type FailureKind, failureKind } from './failure.js'
import { readBackProblems, restartsOf } from './read-back.js'
import type { SyncResult, TreeRef } from './records.js'

// One sync run of one stack, as a short list of named steps in its work
// tree (the reconciler owns the queue, the records and the status):
// validate → pull → up (and wait) → read back, and on a failed `up` or
// read-back the rollback to the last good tree. Each step reports its
// phase; each failure says whose it is (failure.ts): the tree's (not
// retried until it changes) or the engine's / docker-cd's (retried), and
// which step failed. What runs the stack is the runtime seam
// (services/host/runtime.ts): these steps do not know it is Compose.

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
  /** The step that failed. */
  step?: FailedStep
}

/** A read-back that did not pass: the deploy failed (the tree's failure). */
class ReadBackFailed extends Error {}

export type RunInput = {
  path: string
  tree: string
  /** The last good tree (what a rollback returns to), if any. */
  rollbackTo: TreeRef | undefined
  checkBefore: HostCheck | undefined
  phase: (name: SyncPhase, message: string) => void
  /** Called (and awaited) right before `up` changes the host: the deploy is written down as in progress. */
  beforeUp?: () => Promise<void>
}

export function createSyncSteps(options: {
  workTrees: Pick<WorkTrees, 'ensure' | 'treeRecord'>
  runtime: Pick<
    StackRuntime,
    'validate' | 'model' | 'imagesToPull' | 'pull' | 'apply' | 'inspect' | 'ping' | 'takeDown'
  >
  stacksDir: string
  /** SYNC_TIMEOUT in seconds (`--wait-timeout`). */
  waitSeconds: number
  /** Aborted on shutdown: Compose is stopped. */
  signal: AbortSignal
}) {
  const { waitSeconds, signal, runtime } = options

  /** The outcome of a failed step: interrupted by a shutdown, or failed with whose failure it is. */
  async function failed(
    error: unknown,
    what: string,
    extra: Partial<SyncOutcome> = {},
  ): Promise<SyncOutcome> {
    const message = (error as Error).message
    if (signal.aborted)
      return {
        result: 'interrupted',
        reason: `${what} stopped: docker-cd is shutting down`,
        servicesChanged: [],
        ...extra,
      }
    const failure =
      error instanceof ReadBackFailed ? 'tree' : await failureKind(error, runtime.ping)
    return {
      result: 'failed',
      reason: `${what} failed: ${message}`,
      error: message,
      servicesChanged: [],
      failure,
      ...extra,
    }
  }

  /** validate: the work tree written, the runtime accepts it, its model (remembered per tree). */
  async function validate(path: string, tree: string) {
    const dir = (await options.workTrees.ensure(path, tree)).dir
    await runtime.validate(dir)
    const model = await modelOf({
      dir,
      compose: runtime,
      modelCache: options.workTrees.treeRecord<ComposeModel>(path, tree, 'model'),
    })
    return { dir, model }
  }

  /** validate → pull → up (and wait) → read back → rollback on failure. */
  async function run(input: RunInput): Promise<SyncOutcome> {
    const { path, tree, checkBefore, phase } = input
    let dir = join(options.stacksDir, path)
    let model: ComposeModel
    try {
      phase('validate', 'checking the Compose file')
      ;({ dir, model } = await validate(path, tree))
    } catch (error) {
      return failed(error, 'validation', {
        step: 'validation',
        ...(error instanceof ComposeError
          ? { reason: `Compose rejects the stack: ${error.message}` }
          : error instanceof WorkTreeError && error.kind === 'tree'
            ? { reason: `docker-cd refuses the stack's tree: ${error.message}`, failure: 'tree' }
            : { failure: 'local' }), // reading Git or writing the files failed: not the tree's fault
      })
    }
    const project = model.name
    const services = Object.keys(model.services)
    const servicesChanged =
      !checkBefore || checkBefore.status === 'missing' || checkBefore.plan.length === 0
        ? services
        : [...new Set(checkBefore.plan.map((entry) => entry.service))]
    try {
      const toPull = await runtime.imagesToPull(model)
      phase('pull', toPull.length ? `pulling ${toPull.join(', ')}` : 'every image is present')
      await runtime.pull(dir, toPull, signal)
    } catch (error) {
      return failed(error, 'pull', { step: 'pull', project })
    }
    let restartsBefore: ReturnType<typeof restartsOf>
    try {
      restartsBefore = restartsOf(await runtime.inspect(project))
    } catch (error) {
      return failed(error, 'reading the host before up', { step: 'up', project })
    }
    try {
      await input.beforeUp?.()
    } catch (error) {
      // The host is untouched; docker-cd's own side failed (retried with back-off).
      return failed(error, 'writing the deploy record before up', { failure: 'local', project })
    }
    let step: FailedStep = 'up'
    try {
      phase('up', `docker compose up -d --remove-orphans --wait (at most ${waitSeconds}s)`)
      await runtime.apply(dir, {
        waitSeconds,
        signal,
        onWaiting() {
          step = 'health'
          phase('wait', 'waiting for every service to run and be healthy')
        },
      })
      step = 'health'
      await readBack(project, services, restartsBefore)
      return {
        result: 'completed',
        reason: `deployed tree ${short(tree)}: ${servicesChanged.length ? `changed ${servicesChanged.join(', ')}` : 'nothing to change'}`,
        servicesChanged,
        project,
      }
    } catch (error) {
      const outcome = await failed(error, error instanceof ReadBackFailed ? 'read-back' : 'up', {
        servicesChanged,
        project,
        step,
      })
      if (outcome.result !== 'failed' || outcome.failure !== 'tree') return outcome
      return rollback(input, dir, outcome, restartsBefore)
    }
  }

  /** The tree failed after `up` began: the last good tree is applied again, through the same gate. */
  async function rollback(
    input: RunInput,
    dir: string,
    outcome: SyncOutcome,
    restartsBefore: ReturnType<typeof restartsOf>,
  ): Promise<SyncOutcome> {
    const target = input.rollbackTo
    const good = target?.treeHash
    if (!target || !good || good === input.tree) return outcome
    input.phase('rollback', `re-applying tree ${short(good)} (revision ${short(target.revision)})`)
    try {
      await options.workTrees.ensure(input.path, good)
      const goodModel = await runtime.model(dir)
      await runtime.apply(dir, { waitSeconds, signal })
      await readBack(goodModel.name, Object.keys(goodModel.services), restartsBefore)
      return { ...outcome, rolledBackTo: target }
    } catch (rollbackError) {
      return {
        ...outcome,
        error: `${outcome.error}; the rollback to tree ${short(good)} failed too: ${(rollbackError as Error).message}`,
      }
    }
  }

  /** The health gate: every service runs (and is healthy where it has a check); throws ReadBackFailed. */
  async function readBack(
    project: string,
    services: string[],
    restartsBefore: ReturnType<typeof restartsOf>,
  ) {
    const problems = readBackProblems(services, await runtime.inspect(project), restartsBefore)
    if (problems.length > 0) throw new ReadBackFailed(problems.join('; '))
  }

  /** SYNC_PRUNE: the project of a stack that left Git is taken down, its volumes kept. */
  const takeDown = (project: string) => runtime.takeDown(options.stacksDir, project, signal)

  return { run, takeDown }
}

export type SyncSteps = ReturnType<typeof createSyncSteps>
