import type { StackHealth, StackStatus } from '../../schemas/stack.js'
import { type DeployedFrom, digestsOf, type HostCheck, shortDigest } from '../host/index.js'
import {
  failedBefore,
  type ImageUpdate,
  imageUpdateWords,
  movedImagesOf,
  restoredWords,
} from './image-updates.js'
import type { DeployRecord, SyncTrigger } from './records.js'

// What the reconciler does about one stack, and what its status says — pure
// functions of the host check, the deploy record and the stack's tree, so
// every decision is unit-tested and carries its reason in words.
//
// Applied is only what Git changed: a stack is deployed when the host is
// missing it or differs from it AND its tree is not the one docker-cd last
// deployed (a new stack, a new commit touching any file of the stack). The
// same tree differing from the host is drift (someone stopped or edited
// something): re-applied only with SYNC_SELF_HEAL. A tree that failed is
// not tried again until it changes or someone asks. A Compose project
// docker-cd did not deploy is never touched unless handed over.
//
// A deploy the record still holds as in progress was interrupted (docker-cd
// was killed during it): whatever Compose's plan says about the host now —
// "Running" included, a container in its start period runs — it is run
// again through the health gate (`recover`), which rolls back to the
// recorded good tree if it does not pass. It is never just accepted.

export const short = (oid: string | undefined) => (oid ? oid.slice(0, 7) : 'none')

/** Who the stack's Compose project belongs to, as far as docker-cd can tell. */
export type Owner =
  | { kind: 'docker-cd' }
  | { kind: 'nobody' }
  | { kind: 'foreign'; workingDir: string }

/**
 * docker-cd owns a project it has a deploy record for, or whose workloads
 * the runtime says were deployed from docker-cd's own work tree (it ran
 * there: the record may have been lost with the cache dir). Workloads from
 * any other directory were deployed by someone else.
 */
export function ownerOf(record: DeployRecord | undefined, deployedFrom: DeployedFrom): Owner {
  if (record?.deployedTreeHash || record?.lastResult || record?.inProgress)
    return { kind: 'docker-cd' }
  if (deployedFrom.kind === 'nothing') return { kind: 'nobody' }
  if (deployedFrom.kind === 'this-tree') return { kind: 'docker-cd' }
  return { kind: 'foreign', workingDir: deployedFrom.workingDir }
}

export const notManagedReason = (owner: { workingDir: string }) =>
  `not managed by docker-cd: deployed by hand from ${owner.workingDir}`

export type Decision =
  | { action: 'deploy'; trigger: SyncTrigger; why: string }
  /** In sync and docker-cd's: the record only has to say so (it was lost, or is new). */
  | { action: 'record'; why: string }
  | { action: 'wait'; why: string }

export function decide(input: {
  tree: string
  check: HostCheck | undefined
  record: DeployRecord | undefined
  owner: Owner
  selfHeal: boolean
  adopt: boolean
  /** The moved image tags a run would take now (image-updates.ts: `apply` services, not failed before). */
  imageUpdates?: readonly ImageUpdate[]
  /** Why the runtime applies no moved tag (StackRuntime.imageApplyRefused: Swarm). */
  imageApplyRefused?: string | undefined
}): Decision {
  const { tree, check, record, owner } = input
  if (!check) return { action: 'wait', why: 'not checked yet' }
  // Unknown: nothing to stand on. Failed on the host's side (a refused tree,
  // a project name another stack picks): a deploy would meet the same.
  if (check.status === 'unknown' || check.status === 'failed')
    return { action: 'wait', why: check.reason }
  const interrupted = record?.inProgress
  if (interrupted?.toTree === tree)
    return {
      action: 'deploy',
      trigger: 'recover',
      why: `the deploy of tree ${short(tree)} was interrupted (docker-cd stopped during it): finishing it through the health gate, or rolling back to ${interrupted.previous ? `tree ${short(interrupted.previous.treeHash)}` : 'nothing (no earlier tree)'}`,
    }
  if (record?.failedTreeHash === tree)
    return {
      action: 'wait',
      why: `tree ${short(tree)} failed to deploy; retried when the tree changes or on a manual sync`,
    }
  if (check.status === 'synced')
    return owner.kind === 'docker-cd' &&
      record?.deployedTreeHash !== tree &&
      !interrupted &&
      check.health === 'healthy'
      ? { action: 'record', why: 'the host runs this tree already' }
      : { action: 'wait', why: check.reason }
  if (owner.kind === 'foreign')
    return input.adopt
      ? {
          action: 'deploy',
          trigger: 'adopt',
          why: `SYNC_ADOPT=true: taking over project ${check.project} (deployed by hand from ${owner.workingDir})`,
        }
      : { action: 'wait', why: notManagedReason(owner) }
  if (record?.deployedTreeHash !== tree)
    return {
      action: 'deploy',
      trigger: 'git',
      why: record?.deployedTreeHash
        ? `tree changed in Git: ${short(record.deployedTreeHash)} → ${short(tree)}`
        : check.status === 'missing'
          ? `new in Git: tree ${short(tree)} is not deployed`
          : `not deployed by docker-cd yet: tree ${short(tree)}`,
    }
  if (imageOnly(check)) {
    const updates = input.imageUpdates ?? []
    if (updates.length > 0)
      return {
        action: 'deploy',
        trigger: 'image',
        why: `image tag moved in the registry (image_updates: apply): ${imageUpdateWords(updates)}`,
      }
    const failed = movedImagesOf(check).filter((update) =>
      failedBefore(record?.failedImages, update),
    )
    return {
      action: 'wait',
      why:
        failed.length > 0
          ? `${failed.map((f) => `image of service ${f.service} at ${shortDigest(f.current)} failed to deploy`).join('; ')}: tried again when the tag moves or on a manual sync`
          : input.imageApplyRefused
            ? `image updates are reported, not applied (${input.imageApplyRefused}): ${check.reason}`
            : `image updates are reported, not applied (image_updates: detect; a manual sync pulls and deploys them): ${check.reason}`,
    }
  }
  return input.selfHeal
    ? {
        action: 'deploy',
        trigger: 'self-heal',
        why: `drift from the deployed tree: ${check.reason}`,
      }
    : {
        action: 'wait',
        why: `drift from the deployed tree (SYNC_SELF_HEAL is off: sync by hand to re-apply): ${check.reason}`,
      }
}

/** Out of sync only because image tags moved in the registry (image updates), nothing else. */
function imageOnly(check: HostCheck): boolean {
  return (
    check.status === 'out_of_sync' &&
    check.plan.length > 0 &&
    check.plan.every((entry) => entry.action === 'update')
  )
}

/**
 * Whether the host left the tree docker-cd deployed, for a stack whose
 * current tree is that tree (a new tree is Git's change, not drift; a
 * deploy in progress or an unknown host says nothing). The same test decide()
 * applies before it self-heals.
 */
export function driftOf(input: {
  tree: string
  check: HostCheck | undefined
  record: DeployRecord | undefined
}): { drifted: boolean; reason: string; health?: StackHealth } | undefined {
  const { tree, check, record } = input
  if (!check || record?.deployedTreeHash !== tree || record.inProgress) return undefined
  if (check.status === 'unknown' || check.status === 'failed') return undefined
  // A moved image tag is the registry's change, not someone's on the host.
  if (imageOnly(check)) return undefined
  return {
    drifted: check.status !== 'synced',
    reason: check.reason,
    ...(check.health ? { health: check.health } : {}),
  }
}

/** A sync in progress, as the status shows it. */
export type Activity = { phase: string; tree: string; revision: string; trigger: SyncTrigger }

/**
 * The status a stack shows, written in one place (the reconciler): syncing
 * while a run is in progress, failed while its tree is the one that failed,
 * else the host check's, with the reason the reconciler has for waiting.
 */
export function statusOf(input: {
  tree: string
  check: HostCheck | undefined
  record: DeployRecord | undefined
  activity: Activity | undefined
  /** Why nothing is done (apply mode's decision), or undefined to keep the check's reason. */
  waiting?: string
}): { status: StackStatus; reason: string; health?: StackHealth } | undefined {
  const { tree, check, record, activity } = input
  const health = check?.health
  if (activity)
    return {
      status: 'syncing',
      reason: `${activity.trigger === 'manual' ? 'manual sync' : 'applying'} tree ${short(activity.tree)} (revision ${short(activity.revision)}): ${activity.phase}`,
      ...(health ? { health } : {}),
    }
  if (record?.failedTreeHash === tree && record.lastResult === 'failed')
    return {
      status: 'failed',
      reason: `${failureReason(record)}; retried when the tree changes or on a manual sync`,
      ...(health ? { health } : {}),
    }
  // An image update failed on this tree, and the registry still offers that
  // digest — or the host still runs it (the rollback could not put the
  // previous image back), or the rollback failed for another reason.
  if (
    record?.lastResult === 'failed' &&
    !record.failedTreeHash &&
    record.failedImages?.length &&
    (!record.rolledBackTo ||
      movedImagesOf(check).some((update) => failedBefore(record.failedImages, update)) ||
      runsFailedImage(check, record))
  )
    return {
      status: 'failed',
      reason: `${failureReason(record)}; tried again when the tag moves or on a manual sync`,
      ...(health ? { health } : {}),
    }
  if (!check) return undefined
  const reason =
    input.waiting && input.waiting !== check.reason
      ? check.status === 'synced'
        ? `${check.reason}; ${input.waiting}`
        : input.waiting.endsWith(check.reason)
          ? input.waiting
          : `${input.waiting}; ${check.reason}`
      : check.reason
  return { status: check.status, reason, ...(health ? { health } : {}) }
}

/** Whether a container runs a digest whose image update failed (a rollback that did not happen). */
const runsFailedImage = (check: HostCheck | undefined, record: DeployRecord) =>
  (record.failedImages ?? []).some((failed) =>
    check?.containers.some(
      (container) =>
        container.service === failed.service && digestsOf(container).includes(failed.digest),
    ),
  )

/** The last failure of a record, in one sentence. */
export function failureReason(record: DeployRecord): string {
  const back = record.rolledBackTo
  const images = back?.images?.length ? restoredWords(back.images) : ''
  if (!record.failedTreeHash && record.failedImages?.length)
    return `image update of ${record.failedImages.map((f) => `service ${f.service} to ${shortDigest(f.digest)}`).join(', ')} failed: ${record.error ?? 'no reason given'}${images ? `; rolled back: ${images}` : ''}`
  const rolledBack = back
    ? `; rolled back to revision ${short(back.revision)} (tree ${short(back.treeHash)})${images ? `, ${images}` : ''}`
    : ''
  return `deploy of tree ${short(record.failedTreeHash)} failed: ${record.error ?? 'no reason given'}${rolledBack}`
}
