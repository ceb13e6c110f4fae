import type { ComposeModel } from './compose.js'
import type { InspectedContainer } from './docker-engine.js'
import type { ImageFindings, Remembered, StackHostState } from './drift.js'
import type { ReadKind } from './service-reads.js'

// The seam between docker-cd and what runs the stacks: everything the host
// monitor and the sync steps need from a deploy target, and nothing more.
// Compose v2 on one engine is the first implementation (compose-runtime.ts);
// another target (Swarm's `docker stack deploy`) is a second implementation
// of this type, not edits across the monitor, the steps and the reconciler.
// Errors keep their kinds (ComposeError, ComposeUnavailable, EngineUnavailable,
// EngineRefused): services/sync/failure.ts decides whose failure each is.

/** What a check of one stack is given (services/host/monitor.ts). */
export type CheckInput = {
  /** The stack's work tree. */
  dir: string
  /** Registers the project name the runtime picked; answers which other stacks picked it too. */
  claim?: (project: string | undefined) => readonly string[]
  /** Where the model of this tree is remembered (asked of the runtime only when absent). */
  modelCache?: Remembered<ComposeModel>
  /** The last check of this tree, with the engine's fingerprint then (see drift.ts). */
  lastCheck?: Remembered<{ fingerprint: string; state: StackHostState }>
  /** The startup pass: an unchanged fingerprint may reuse the last check. */
  reuseLast?: boolean
  /** Files changed since the tree the stack's workloads were created from (file-changes.ts). */
  changedSinceDeploy?: readonly string[]
  /** The stack's SOPS-encrypted files (links into SECRETS_DIR), for the notes. */
  encrypted?: readonly string[]
  /** What the image checks found (image-watch.ts): moved tags, failed asks. */
  imageFindings?: ImageFindings
}

/** Where a project's workloads say they were deployed from (ownership, services/sync/decide.ts). */
export type DeployedFrom =
  | { kind: 'nothing' }
  | { kind: 'this-tree' }
  | { kind: 'elsewhere'; workingDir: string }

export type StackRuntime = {
  /** What the runtime is, for logs and messages (`compose`). */
  readonly name: string
  /**
   * Why this runtime never deploys a moved image tag by itself
   * (`image_updates: apply` acts as `detect`), in words for the stack's
   * reason; undefined: it applies them (pull, deploy, the old image put
   * back by id on a failure).
   */
  readonly imageApplyRefused?: string
  /** The stack's model as the runtime reads it: project name, services, `x-docker-cd`. */
  model(dir: string): Promise<ComposeModel>
  /** Status, health, plan and reason of the stack whose work tree is `input.dir` (drift). */
  check(input: CheckInput): Promise<StackHostState>
  /** Refuses, with the runtime's reason, a stack it cannot run; touches nothing. */
  validate(dir: string): Promise<void>
  /** The services whose images the deploy pulls first (each service's `pull_policy`). */
  imagesToPull(model: ComposeModel): Promise<string[]>
  pull(dir: string, services: readonly string[], signal: AbortSignal): Promise<void>
  /** Builds these services' images again (a file of their build context changed). */
  build(dir: string, services: readonly string[], signal: AbortSignal): Promise<void>
  /**
   * Converges the host on the work tree in `dir` (only what changed is
   * replaced) and waits, at most `waitSeconds`, for every service to run
   * and be healthy; `onWaiting` once that wait begins. Aborted by `signal`.
   */
  apply(
    dir: string,
    options: { waitSeconds: number; signal: AbortSignal; onWaiting?: () => void },
  ): Promise<void>
  /**
   * Replaces these services' workloads although their configuration did not
   * change (files they read did), or restarts them in place (`restart`), then
   * waits for them as `apply` does. Their dependencies are left alone.
   */
  renew(
    dir: string,
    services: readonly string[],
    how: 'recreate' | 'restart',
    options: { waitSeconds: number; signal: AbortSignal },
  ): Promise<void>
  /**
   * Names each image again by its reference, by id (a failed image update's
   * rollback: the previous image, still on the host, is what the tag names
   * again, so `apply` recreates the service on it).
   */
  restoreImages(images: readonly { reference: string; imageId: string }[]): Promise<void>
  /** Removes images no tag names and no workload uses (what an image update replaced); best effort. */
  removeImages(imageIds: readonly string[]): Promise<void>
  /**
   * The files whose content names what the workloads use (Swarm: configs
   * and secrets are objects named by their content hash): a changed one
   * changes the spec, so `apply` replaces the services reading it, and
   * `renew` is never asked for them. None when absent (Compose).
   */
  readonly contentNamed?: readonly ReadKind[]
  /**
   * After a deploy of `dir` passed its gate: removes the versions of such
   * objects its tree no longer names; best effort, what was done in words.
   */
  removeOldVersions?(dir: string, signal: AbortSignal): Promise<string[]>
  /** What the project runs, workload by workload (the read-back after `apply`). */
  inspect(project: string): Promise<InspectedContainer[]>
  /** Takes a project down (its stack left Git), its volumes kept. */
  takeDown(dir: string, project: string, signal: AbortSignal): Promise<void>
  /** Where the checked project's workloads were deployed from, compared with the stack's work tree. */
  deployedFrom(check: Pick<StackHostState, 'containers'>, workTree: string): DeployedFrom
  /** Resolves when the engine answers; rejects when it does not. */
  ping(): Promise<void>
  /** The runtime's version (startup message); rejects when it is not there. */
  version(): Promise<string>
  /** Stops whatever the runtime still runs (shutdown). */
  close(): Promise<void>
}
