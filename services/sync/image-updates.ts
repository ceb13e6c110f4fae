import { type HostCheck, type ImagePolicy, imagePolicyOf, shortDigest } from '../host/index.js'
import type { SyncTrigger } from './records.js'

// Image updates, apply: which moved tags a run takes, what ran before them
// (put back by image id when the update fails its health gate), what a
// deploy left running (the record), and which digests failed (not taken
// again until their tag moves or someone asks). Pure functions of the host
// check and the deploy record, so every choice is unit-tested and said in
// words.

/** A moved tag: the digest its service runs and the one the tag names now (an `update` plan entry). */
export type ImageUpdate = { service: string; reference: string; running: string; current: string }

/**
 * The image a service runs, by id (what a rollback tags again) and by its
 * repository digest (what people compare): before an image update, and in
 * the record after a deploy.
 */
export type RunningImage = { service: string; reference: string; imageId: string; digest?: string }

/** A digest whose deploy failed its health gate: not taken again until the tag moves or someone asks. */
export type FailedImage = { service: string; reference: string; digest: string }

/** The moved tags of a checked stack, one per service. */
export function movedImagesOf(check: Pick<HostCheck, 'plan'> | undefined): ImageUpdate[] {
  const moved = new Map<string, ImageUpdate>()
  for (const entry of check?.plan ?? [])
    if (entry.action === 'update' && entry.image && !moved.has(entry.service))
      moved.set(entry.service, { service: entry.service, ...entry.image })
  return [...moved.values()]
}

/** Whether this digest of the service's tag failed its health gate before. */
export const failedBefore = (
  failed: readonly FailedImage[] | undefined,
  update: Pick<ImageUpdate, 'service' | 'reference' | 'current'>,
) =>
  failed?.some(
    (f) =>
      f.service === update.service &&
      f.reference === update.reference &&
      f.digest === update.current,
  ) ?? false

/**
 * The moved tags a run takes. A manual sync takes every one (the operator
 * asks for it, a failed digest included); any other run those of services
 * whose policy is `apply`, except a digest that failed already. A tag taken
 * for one service is taken for every service of the stack using it: the
 * host has one image per tag, and Compose recreates whatever uses it.
 */
export function imageUpdatesFor(input: {
  check: HostCheck | undefined
  failed: readonly FailedImage[] | undefined
  defaultPolicy: ImagePolicy
  trigger: SyncTrigger
  /** The runtime's reason for applying none (StackRuntime.imageApplyRefused: Swarm): none is taken. */
  refused?: string | undefined
}): ImageUpdate[] {
  const { check } = input
  const moved = movedImagesOf(check)
  if (!check || moved.length === 0 || input.refused) return []
  const taken = new Set(
    moved
      .filter(
        (update) =>
          input.trigger === 'manual' ||
          (imagePolicyOf(check, update.service, input.defaultPolicy) === 'apply' &&
            !failedBefore(input.failed, update)),
      )
      .map((update) => `${update.reference}\n${update.current}`),
  )
  return moved.filter((update) => taken.has(`${update.reference}\n${update.current}`))
}

/** `app: registry/app:stable sha256:1a2b3c4d5e6f → sha256:6f5e4d3c2b1a` */
export const imageUpdateWords = (updates: readonly ImageUpdate[]) =>
  updates
    .map(
      (u) => `${u.service}: ${u.reference} ${shortDigest(u.running)} → ${shortDigest(u.current)}`,
    )
    .join('; ')

/**
 * `app still runs sha256:1a2b3c4d5e6f after the pull (the registry names
 * sha256:6f5e4d3c2b1a for registry/app:stable, its pull does not bring it)`
 */
export const unchangedWords = (updates: readonly ImageUpdate[]) =>
  updates
    .map(
      (u) =>
        `${u.service} still runs ${shortDigest(u.running)} after the pull (the registry names ${shortDigest(u.current)} for ${u.reference}, its pull does not bring it)`,
    )
    .join('; ')

/** `app back on sha256:1a2b3c4d5e6f` */
export const restoredWords = (images: readonly RunningImage[]) =>
  images
    .map((image) => `${image.service} back on ${shortDigest(image.digest ?? image.imageId)}`)
    .join(', ')

/**
 * The image each service runs, from its containers (the first one of a
 * scaled service: Compose runs one image per service), for the services
 * named; a container without an image id is left out.
 */
export function runningImagesOf(
  containers: readonly { service: string; image?: string; imageId?: string; digest?: string }[],
  services: readonly string[],
  referenceOf: (service: string) => string | undefined,
): RunningImage[] {
  const images: RunningImage[] = []
  for (const service of services) {
    const container = containers.find((c) => c.service === service && c.imageId)
    const reference = referenceOf(service) ?? container?.image
    if (!container?.imageId || !reference) continue
    images.push({
      service,
      reference,
      imageId: container.imageId,
      ...(container.digest ? { digest: container.digest } : {}),
    })
  }
  return images
}

/**
 * The failed digests kept after a run: a run that took updates and failed
 * for the tree's reason (its health gate) adds theirs, replacing what the
 * same services failed with before; a manual sync starts afresh (it was
 * asked to try them); a completed run drops the services it deployed; a
 * moved tag whose pull changed nothing (`unchanged`: the registry names a
 * digest its pull does not serve) is added whatever the result, so the
 * next poll does not pull and `up` again for nothing.
 */
export function failedImagesAfter(
  before: readonly FailedImage[] | undefined,
  run: {
    trigger: SyncTrigger
    result: 'completed' | 'failed' | 'interrupted'
    treeFailed: boolean
    updates: readonly ImageUpdate[]
    unchanged?: readonly ImageUpdate[]
  },
): FailedImage[] | undefined {
  const unchanged = run.unchanged ?? []
  const updated = new Set([...run.updates, ...unchanged].map((update) => update.service))
  const kept = (run.trigger === 'manual' ? [] : (before ?? [])).filter(
    (failed) => !updated.has(failed.service),
  )
  const added = [
    ...(run.result === 'failed' && run.treeFailed ? run.updates : []),
    ...unchanged,
  ].map(({ service, reference, current }) => ({ service, reference, digest: current }))
  const next = [...kept, ...added]
  return next.length > 0 ? next : undefined
}
