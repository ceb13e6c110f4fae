import { join } from 'node:path'
import {
  ComposeError,
  type ComposeModel,
  changedFilesWords,
  type FileChange,
  fileChangeDone,
  fileChangesOf,
  type HostCheck,
  type InspectedContainer,
  modelOf,
  readStackSettings,
  readsExcept,
  type StackRuntime,
  WorkTreeError,
  type WorkTrees,
} from '../host/index.js'
import { short } from './decide.js'
import { type FailedStep, type FailureKind, failureKind } from './failure.js'
import {
  type ImageUpdate,
  imageUpdateWords,
  type RunningImage,
  restoredWords,
  runningImagesOf,
  unchangedWords,
} from './image-updates.js'
import { type FailureEvidence, failureEvidence, readBackProblems, restartsOf } from './read-back.js'
import type { RolledBackTo, SyncResult, TreeRef } from './records.js'

// One sync run of one stack, as a short list of named steps in its work
// tree (the reconciler owns the queue, the records and the status):
// validate → pull → build → up (and wait) → renew → read back, and on a
// failed `up`, renewal or read-back the rollback to the last good tree.
// Files the services read (bind mounts, configs, secrets, build contexts)
// are compared with the tree the containers were created from: Compose's
// hash does not cover them, so the services reading a changed one are
// rebuilt before `up` (a build context) or renewed after it (recreated,
// or restarted when the stack asks) unless `up` replaced them anyway. Each step reports its
// phase; each failure says whose it is (failure.ts): the tree's (not
// retried until it changes) or the engine's / docker-cd's (retried), and
// which step failed. What runs the stack is the runtime seam
// (services/host/runtime.ts): these steps do not know it is Compose.
//
// Image updates ride the same steps: the services whose tag moved are
// pulled (which moves the host's tag: written down as in progress first,
// with the image each ran, by id), `up` recreates them and only them, and
// the health gate decides. A failure puts the previous images back under
// their tags before the rollback's `up`, so the same tree runs them again;
// a success removes the replaced image once nothing uses or names it.

export type SyncPhase =
  | 'queued'
  | 'validate'
  | 'pull'
  | 'build'
  | 'up'
  | 'renew'
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
  rolledBackTo?: RolledBackTo
  /** Whose failure it is: the tree's own is not retried until the tree changes. */
  failure?: FailureKind
  /** The step that failed. */
  step?: FailedStep
  /** The services whose read files changed, and what was done to them. */
  fileChanges?: FileChange[]
  /** The moved image tags the run took. */
  imageUpdates?: ImageUpdate[]
  /** Moved tags whose pull changed nothing: the service runs the image it ran (the registry names a digest its pull does not serve). */
  imagesUnchanged?: ImageUpdate[]
  /** The image each service runs after a completed deploy. */
  images?: RunningImage[]
  /** Failed before `up`, the moved tags put back: the host is as before the run (nothing stays in progress). */
  hostUnchanged?: true
  /** The containers that failed the health gate and what their health checks printed, read before the rollback replaced them. */
  evidence?: FailureEvidence[]
}

/** A read-back that did not pass: the deploy failed (the tree's failure). */
class ReadBackFailed extends Error {}

export type RunInput = {
  path: string
  tree: string
  /** The last good tree (what a rollback returns to), if any. */
  rollbackTo: TreeRef | undefined
  checkBefore: HostCheck | undefined
  /** The moved image tags this run takes (image-updates.ts). */
  imageUpdates?: readonly ImageUpdate[]
  /** The images an interrupted image update replaced (its in-progress record): put back on a rollback. */
  previousImages?: readonly RunningImage[]
  phase: (name: SyncPhase, message: string) => void
  /**
   * Called (and awaited) right before the host changes — before `up`, or
   * before an image update's pull moves a tag —: the deploy is written down
   * as in progress, with the images to put back.
   */
  beforeUp?: (
    previousImages: readonly RunningImage[],
    imageUpdates: readonly ImageUpdate[],
  ) => Promise<void>
}

/** What the steps need of the runtime seam. */
export type StepsRuntime = Pick<
  StackRuntime,
  | 'validate'
  | 'model'
  | 'imagesToPull'
  | 'pull'
  | 'build'
  | 'apply'
  | 'renew'
  | 'inspect'
  | 'ping'
  | 'takeDown'
  | 'restoreImages'
  | 'removeImages'
  | 'imageApplyRefused'
  | 'contentNamed'
  | 'removeOldVersions'
>

/** The files that differ between two trees of a stack (Git; relative to the stack directory). */
export type ChangedFiles = (
  path: string,
  fromTree: string,
  toTree: string,
) => Promise<readonly string[]>

export function createSyncSteps(options: {
  workTrees: Pick<WorkTrees, 'ensure' | 'treeRecord'>
  runtime: StepsRuntime
  /** The files that differ between two trees of a stack (Git; relative to the stack directory). */
  changedFiles: ChangedFiles
  stacksDir: string
  /** SYNC_TIMEOUT in seconds (`--wait-timeout`). */
  waitSeconds: number
  /** Aborted on shutdown: Compose is stopped. */
  signal: AbortSignal
  /** Cuts secrets (the service's, decrypted files') out of what containers printed. */
  scrub?: (text: string) => string
}) {
  const { waitSeconds, signal, runtime } = options
  // What the phases and reasons call the runtime (Compose's words unless it is Swarm).
  // Asked each time: a target undecided at startup (engine down) is decided later.
  // (The full runtime's `name`; a scripted one in tests has none: Compose's words.)
  const swarm = () => (runtime as Partial<Pick<StackRuntime, 'name'>>).name === 'swarm'

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
          : error instanceof WorkTreeError && (error.kind === 'tree' || error.kind === 'key')
            ? { reason: `docker-cd refuses the stack's tree: ${error.message}`, failure: 'tree' }
            : { failure: 'local' }), // reading Git or writing the files failed: not the tree's fault
      })
    }
    const project = model.name
    const services = Object.keys(model.services)
    // The health gate's services: one scaled to zero in Git has no container to read back.
    const gated = gatedServices(model)
    // A moved tag of a service the tree still runs from that tag (a new commit may name another).
    const updates = (input.imageUpdates ?? []).filter(
      (update) => model.services[update.service]?.image === update.reference,
    )
    const withUpdates = updates.length > 0 ? { imageUpdates: [...updates] } : {}
    // The tree the containers were created from: the last good one.
    let changes: FileChange[]
    try {
      changes = await fileChangesBetween(path, input.rollbackTo?.treeHash, tree, model)
    } catch (error) {
      // Not "nothing changed": the new tree would be recorded as deployed, the old files kept.
      return failed(error, 'comparing with the deployed tree', { failure: 'local', project })
    }
    const servicesChanged = [
      ...new Set([
        ...(!checkBefore || checkBefore.status === 'missing' || checkBefore.plan.length === 0
          ? services
          : // A moved image tag is applied only when this run takes it (below).
            checkBefore.plan
              .filter((entry) => entry.action !== 'update')
              .map((entry) => entry.service)),
        ...changes.map((change) => change.service),
        ...updates.map((update) => update.service),
      ]),
    ]
    const withChanges = {
      ...(changes.length > 0 ? { fileChanges: changes } : {}),
      ...withUpdates,
    }
    // What runs now, and the images an image update replaces (put back by id if it fails).
    let before: InspectedContainer[] | undefined
    let previousImages: RunningImage[] = [...(input.previousImages ?? [])]
    const readBefore = async (): Promise<SyncOutcome | undefined> => {
      try {
        before = await runtime.inspect(project)
      } catch (error) {
        return failed(error, 'reading the host before up', { step: 'up', project })
      }
      const replaced = runningImagesOf(
        before,
        updates.map((update) => update.service),
        (service) => model.services[service]?.image,
      )
      // An interrupted update's own record wins: what runs now may be its new image already.
      previousImages = [
        ...previousImages,
        ...replaced.filter((image) => !previousImages.some((p) => p.service === image.service)),
      ]
      try {
        await input.beforeUp?.(previousImages, updates)
      } catch (error) {
        // The host is untouched; docker-cd's own side failed (retried with back-off).
        return failed(error, 'writing the deploy record before up', { failure: 'local', project })
      }
      return undefined
    }
    // A pull moves the host's tag: the deploy is written down before it.
    if (updates.length > 0) {
      const refused = await readBefore()
      if (refused) return refused
    }
    try {
      const toPull = [
        ...new Set([
          ...(await runtime.imagesToPull(model)),
          ...updates.map((update) => update.service),
        ]),
      ].sort()
      phase(
        'pull',
        toPull.length
          ? `pulling ${toPull.join(', ')}${updates.length ? ` (image tag moved: ${imageUpdateWords(updates)})` : ''}`
          : 'every image is present',
      )
      await runtime.pull(dir, toPull, signal)
    } catch (error) {
      const outcome = await failed(error, 'pull', { step: 'pull', project, ...withUpdates })
      // Only moved tags to pull, on the tree already deployed: the registry's
      // failure (tried again, backing off), not the tree's.
      const imageOnly = updates.length > 0 && tree === input.rollbackTo?.treeHash
      return putBack(
        previousImages,
        imageOnly && outcome.failure === 'tree' ? { ...outcome, failure: 'registry' } : outcome,
      )
    }
    const rebuilt = servicesTo('rebuild', changes)
    try {
      if (rebuilt.length > 0) {
        phase('build', `rebuilding ${wordsOf(changes.filter((c) => c.action === 'rebuild'))}`)
        await runtime.build(dir, rebuilt, signal)
      }
    } catch (error) {
      return putBack(
        previousImages,
        await failed(error, 'build', { step: 'build', project, ...withUpdates }),
      )
    }
    if (!before) {
      const refused = await readBefore()
      if (refused) return refused
    }
    const beforeUp = before as InspectedContainer[]
    const restartsBefore = restartsOf(beforeUp)
    let step: FailedStep = 'up'
    try {
      phase(
        'up',
        swarm()
          ? `docker stack deploy --prune, then watching the rollout (at most ${waitSeconds}s)`
          : `docker compose up -d --remove-orphans --wait (at most ${waitSeconds}s)`,
      )
      await runtime.apply(dir, {
        waitSeconds,
        signal,
        onWaiting() {
          step = 'health'
          phase(
            'wait',
            swarm()
              ? 'watching the rollout: every replica running and healthy'
              : 'waiting for every service to run and be healthy',
          )
        },
      })
      step = 'health'
      // What `up` did not replace still reads the files it was created with.
      // Renewed alone (`--no-deps`), it leaves behind a service in its
      // namespace (a sidecar with `network_mode: service:vpn`, cut off in
      // the removed container's): then Compose converges again.
      const renewed = await renew(dir, project, changes, phase, startedSameAs(beforeUp))
      if (joinsAny(model, renewed)) await runtime.apply(dir, { waitSeconds, signal })
      const running = await readBack(project, gated, restartsBefore)
      const filesDone = changes.map(fileChangeDone)
      const images = runningImagesOf(running, services, (service) => model.services[service]?.image)
      await removeReplaced(previousImages, images)
      const versionsDone = await removeOldVersions(dir)
      // A moved tag whose pull brought the image the service runs already (the
      // registry's HEAD and its pull disagree): not taken, and not again.
      const unchanged = updates.filter((update) => {
        const was = previousImages.find((image) => image.service === update.service)
        const now = images.find((image) => image.service === update.service)
        return was !== undefined && was.imageId === now?.imageId
      })
      const taken = updates.filter((update) => !unchanged.includes(update))
      const changed = servicesChanged.filter(
        (service) =>
          !unchanged.some((update) => update.service === service) ||
          !running
            .filter((container) => container.service === service)
            .every(startedSameAs(beforeUp)),
      )
      const { imageUpdates: _all, ...otherChanges } = withChanges
      return {
        result: 'completed',
        reason: `deployed tree ${short(tree)}: ${changed.length ? `changed ${changed.join(', ')}` : 'nothing to change'}${filesDone.length ? `; ${filesDone.join('; ')}` : ''}${taken.length ? `; image tag moved: ${imageUpdateWords(taken)}` : ''}${unchanged.length ? `; ${unchangedWords(unchanged)}: not pulled again until the tag names another digest or on a manual sync` : ''}${versionsDone.length ? `; ${versionsDone.join('; ')}` : ''}`,
        servicesChanged: changed,
        project,
        ...otherChanges,
        ...(taken.length > 0 ? { imageUpdates: taken } : {}),
        ...(unchanged.length > 0 ? { imagesUnchanged: unchanged } : {}),
        ...(images.length > 0 ? { images } : {}),
      }
    } catch (caught) {
      // Compose gave up waiting: what the engine runs says why (a container that exits
      // and is restarted reads "not healthy" to Compose), so the reason names it.
      // Only the tree's own failure is explained so: an engine that stops
      // mid-wait shows exited containers too, and stays the engine's failure.
      const error =
        step === 'health' &&
        !(caught instanceof ReadBackFailed) &&
        !signal.aborted &&
        (await failureKind(caught, runtime.ping)) === 'tree'
          ? await withReadBack(caught, project, gated, restartsBefore)
          : caught
      const outcome = await failed(error, error instanceof ReadBackFailed ? 'read-back' : 'up', {
        servicesChanged,
        project,
        step,
        ...withChanges,
      })
      if (outcome.result !== 'failed' || outcome.failure !== 'tree') return outcome
      const evidence = step === 'health' ? await evidenceOf(project, gated, restartsBefore) : []
      return rollback(
        input,
        dir,
        evidence.length > 0 ? { ...outcome, evidence } : outcome,
        beforeUp,
        previousImages,
      )
    }
  }

  /**
   * A failure before `up`: the tags an image update's pull moved are put
   * back on the images the services run (nothing else changed), so a later
   * `up` does not pick the new images up unasked.
   */
  async function putBack(
    previousImages: readonly RunningImage[],
    outcome: SyncOutcome,
  ): Promise<SyncOutcome> {
    if (previousImages.length === 0) return outcome
    try {
      await runtime.restoreImages(previousImages)
      return { ...outcome, hostUnchanged: true }
    } catch (error) {
      return {
        ...outcome,
        error: `${outcome.error ?? outcome.reason}; putting the previous images back under their tags failed too: ${(error as Error).message}`,
      }
    }
  }

  /**
   * After a deploy passed its gate: the images an image update replaced go,
   * unless something still uses or names them (best effort: a leftover
   * image is disk, not a fault of the deploy).
   */
  async function removeReplaced(
    previousImages: readonly RunningImage[],
    running: readonly RunningImage[],
  ) {
    const replaced = previousImages
      .map((image) => image.imageId)
      .filter((id) => !running.some((image) => image.imageId === id))
    if (replaced.length > 0) await runtime.removeImages([...new Set(replaced)]).catch(() => {})
  }

  /**
   * After a deploy passed its gate (never after a failed one, nor its
   * rollback): the runtime's old versions of content-named objects go
   * (Swarm's configs and secrets). Best effort: what is left over is
   * said, and the deploy stays a success.
   */
  async function removeOldVersions(dir: string): Promise<string[]> {
    try {
      return (await runtime.removeOldVersions?.(dir, signal)) ?? []
    } catch (error) {
      return [`old versions of configs and secrets not removed: ${(error as Error).message}`]
    }
  }

  /**
   * The services of `model` reading a file that differs between the tree
   * their containers were created from and `tree`, each with its action.
   * Without a tree to compare with (a first deploy) there is nothing to
   * renew: every container is new. A tree the mirror no longer has counts
   * as empty (every file changed: host-sync.ts); when Git cannot be asked,
   * this rejects (the deploy fails as docker-cd's, and is retried).
   */
  async function fileChangesBetween(
    path: string,
    from: string | undefined,
    tree: string,
    model: ComposeModel,
  ): Promise<FileChange[]> {
    if (!from || from === tree || !model.reads) return []
    const changed = await options.changedFiles(path, from, tree)
    // Files whose content names their objects (Swarm's configs and secrets):
    // a change is a new spec, which `up` rolls out; renewing would roll twice.
    const reads = readsExcept(model.reads, runtime.contentNamed ?? [])
    return fileChangesOf(reads, changed, readStackSettings(model.settings).onFileChange)
  }

  /**
   * Renews the services whose files changed, where `stale(container)`: each
   * such container still reads the files it started with. Recreated (or
   * rebuilt, which `up` normally replaced already), or restarted in place
   * when the stack asks for that; either waits for them as `up` does.
   * The services renewed.
   */
  async function renew(
    dir: string,
    project: string,
    changes: readonly FileChange[],
    phase: RunInput['phase'],
    stale: (container: InspectedContainer) => boolean,
  ): Promise<string[]> {
    if (changes.length === 0) return []
    const running = await runtime.inspect(project)
    const due = changes.filter((change) =>
      running.some((container) => container.service === change.service && stale(container)),
    )
    for (const how of ['recreate', 'restart'] as const) {
      const now = due.filter((change) => (how === 'restart') === (change.action === 'restart'))
      if (now.length === 0) continue
      phase('renew', `${how === 'restart' ? 'restarting' : 'recreating'} ${wordsOf(now)}`)
      await runtime.renew(
        dir,
        now.map((change) => change.service),
        how,
        { waitSeconds, signal },
      )
    }
    return due.map((change) => change.service)
  }

  /**
   * The tree failed after `up` began: the last good tree is applied again,
   * through the same gate. Services whose read files differ between the
   * failed tree and the good one are rebuilt first (a build context), and
   * renewed from the good files before `up` where the failed deploy touched
   * their containers (the renewal uses the good Compose file too, so `up`
   * then leaves them as they are). The images an image update replaced are
   * put back under their tags first (by id: they are still on the host), so
   * `up` recreates those services on them — also when the tree is the same.
   */
  async function rollback(
    input: RunInput,
    dir: string,
    outcome: SyncOutcome,
    beforeDeploy: readonly InspectedContainer[],
    previousImages: readonly RunningImage[],
  ): Promise<SyncOutcome> {
    const target = input.rollbackTo
    const good = target?.treeHash
    if (!target || !good || (good === input.tree && previousImages.length === 0))
      return putBack(previousImages, outcome)
    const images = previousImages.length > 0 ? `${restoredWords(previousImages)}; ` : ''
    input.phase(
      'rollback',
      `${images}re-applying tree ${short(good)} (revision ${short(target.revision)})`,
    )
    try {
      await runtime.restoreImages(previousImages)
      await options.workTrees.ensure(input.path, good)
      const goodModel = await runtime.model(dir)
      const changes = await fileChangesBetween(input.path, input.tree, good, goodModel)
      const rebuilt = servicesTo('rebuild', changes)
      if (rebuilt.length > 0) await runtime.build(dir, rebuilt, signal)
      // First: `up` would wait on a container the failed tree's files made unhealthy.
      const untouched = startedSameAs(beforeDeploy)
      await renew(dir, goodModel.name, changes, input.phase, (c) => !untouched(c))
      await runtime.apply(dir, { waitSeconds, signal })
      await readBack(goodModel.name, gatedServices(goodModel), restartsOf(beforeDeploy))
      return {
        ...outcome,
        rolledBackTo: {
          ...target,
          ...(previousImages.length ? { images: [...previousImages] } : {}),
        },
      }
    } catch (rollbackError) {
      return {
        ...outcome,
        error: `${outcome.error}; the rollback to tree ${short(good)}${images ? ` (${restoredWords(previousImages)})` : ''} failed too: ${(rollbackError as Error).message}`,
      }
    }
  }

  /** The health gate: every service runs (and is healthy where it has a check); throws ReadBackFailed. */
  async function readBack(
    project: string,
    services: string[],
    restartsBefore: ReturnType<typeof restartsOf>,
  ): Promise<InspectedContainer[]> {
    const running = await runtime.inspect(project)
    const problems = readBackProblems(services, running, restartsBefore)
    if (problems.length > 0) throw new ReadBackFailed(problems.join('; '))
    return running
  }

  /** What the failing containers look like now, scrubbed (none when the engine cannot be read). */
  async function evidenceOf(
    project: string,
    services: string[],
    restartsBefore: ReturnType<typeof restartsOf>,
  ): Promise<FailureEvidence[]> {
    const scrub = options.scrub ?? ((text: string) => text)
    try {
      return failureEvidence(services, await runtime.inspect(project), restartsBefore).map(
        (found) => ({
          ...found,
          ...(found.healthOutput ? { healthOutput: scrub(found.healthOutput) } : {}),
        }),
      )
    } catch {
      return []
    }
  }

  /** A failed wait, explained by the read-back when it finds problems (otherwise unchanged). */
  async function withReadBack(
    error: unknown,
    project: string,
    services: string[],
    restartsBefore: ReturnType<typeof restartsOf>,
  ): Promise<unknown> {
    try {
      const problems = readBackProblems(services, await runtime.inspect(project), restartsBefore)
      if (problems.length === 0) return error
      return new ReadBackFailed(
        `${problems.join('; ')} (${swarm() ? 'Swarm' : 'Compose'}: ${(error as Error).message})`,
      )
    } catch {
      return error // the engine cannot be read: the failure is classified from the original error
    }
  }

  /** SYNC_PRUNE: the project of a stack that left Git is taken down, its volumes kept. */
  const takeDown = (project: string) => runtime.takeDown(options.stacksDir, project, signal)

  return { run, takeDown }
}

export type SyncSteps = ReturnType<typeof createSyncSteps>

/** Whether a service of the model joins a namespace of one of `renewed`. */
const joinsAny = (model: ComposeModel, renewed: readonly string[]) =>
  renewed.length > 0 &&
  Object.values(model.services).some((spec) => spec.joins?.some((name) => renewed.includes(name)))

/** The services the health gate reads back: all but those scaled to zero in Git (`deploy.replicas: 0`). */
export const gatedServices = (model: Pick<ComposeModel, 'services'>): string[] =>
  Object.keys(model.services).filter((service) => !model.services[service]?.scaledToZero)

/** The services whose changed files call for `action`. */
const servicesTo = (action: FileChange['action'], changes: readonly FileChange[]) =>
  changes.filter((change) => change.action === action).map((change) => change.service)

/** `app: ./Dockerfile changed; web: ./nginx.conf changed` (the phase says what is done). */
const wordsOf = (changes: readonly FileChange[]) =>
  changes.map((change) => `${change.service}: ${changedFilesWords(change.files)}`).join('; ')

/** Whether a container is one of `before`, not started again since (a restart keeps the id). */
const startedSameAs =
  (before: readonly InspectedContainer[]) =>
  (container: InspectedContainer): boolean =>
    before.some((old) => old.id === container.id && old.startedAt === container.startedAt)
