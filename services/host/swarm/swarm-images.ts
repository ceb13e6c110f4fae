import { type ImageFindings, reasonOf, type StackHostState, withImageFindings } from '../drift.js'
import { imagePolicyOf } from '../image-watch.js'
import type { ImagePolicy } from '../stack-settings.js'
import type { RenderedStack } from './stack-file.js'

// Image updates on a Swarm target (docs/swarm.md). `detect` works
// as on Compose: the tags the tree's services name are asked of their
// registries (image-watch.ts) and compared with the digest each service's
// spec pins — `docker stack deploy --resolve-image always` (the default
// SWARM_RESOLVE_IMAGE) writes `name:tag@sha256:…` into the spec, and every
// node runs that digest. A moved tag is an `update` entry, out of sync,
// said in words. `apply` acts as `detect`: Compose's apply puts a failed
// update's previous image back by its local id, and a swarm has none to
// put back (each node pulls by itself; deploying the last good tree again
// resolves the moved tag again). The stack says so in a note.

/** Why Swarm deploys no moved tag by itself (StackRuntime.imageApplyRefused). */
export const SWARM_IMAGE_APPLY_REFUSED =
  'on Swarm, image_updates: apply acts as detect: docker-cd could not put the previous image back if the rollout failed; the next deploy of the stack takes the new digest (docs/swarm.md)'

/** The digest a service's spec pins (`name:tag@sha256:…`); none when the deploy did not resolve it. */
export const specDigest = (image: string | undefined) =>
  image ? /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1] : undefined

/**
 * A checked Swarm stack with what image updates need and say: the
 * services' images from the tree, each task with the digest its service
 * pins, the image checks' findings merged, and notes on what `apply` and
 * SWARM_RESOLVE_IMAGE=never mean here.
 */
export function withSwarmImages(
  state: StackHostState,
  options: {
    tree: RenderedStack
    findings: ImageFindings | undefined
    /** IMAGE_UPDATES: the policy of a stack and service that name none. */
    defaultPolicy: ImagePolicy
    resolveImage: 'always' | 'changed' | 'never'
  },
): StackHostState {
  const images = Object.entries(options.tree.services ?? {})
    .filter(([, service]) => typeof service.image === 'string' && !service.image.includes('@'))
    .map(([service, spec]) => ({ service, reference: spec.image as string }))
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0))
  const containers = state.containers.map((container) => {
    const digest = specDigest(container.image)
    return digest ? { ...container, digest } : container
  })
  const withDigests: StackHostState = {
    ...state,
    containers,
    ...(images.length > 0 ? { images } : {}),
  }
  const policies = images.map((image) =>
    imagePolicyOf(withDigests, image.service, options.defaultPolicy),
  )
  const notes = [
    ...(state.notes ?? []),
    ...(policies.includes('apply') ? [`image updates: ${SWARM_IMAGE_APPLY_REFUSED}`] : []),
    ...(options.resolveImage === 'never' && policies.some((policy) => policy !== 'off')
      ? [
          'image updates are not watched: with SWARM_RESOLVE_IMAGE=never the services name no digest (each node pulls the tag by itself)',
        ]
      : []),
  ]
  const noted = notes.length > 0 ? { ...withDigests, notes } : withDigests
  if (!options.findings || (state.status !== 'synced' && state.status !== 'out_of_sync'))
    return noted
  return withFindings(noted, options.findings)
}

/** The findings merged as Compose's check merges them, the Swarm's own words kept. */
function withFindings(state: StackHostState, findings: ImageFindings): StackHostState {
  const merged = withImageFindings(state, findings)
  const added = merged.plan.slice(state.plan.length)
  if (added.length === 0) return merged
  const rest =
    state.status === 'synced'
      ? state.reason.replace(/^the swarm runs what Git says(; )?/, '')
      : state.reason
  return {
    ...merged,
    reason: [reasonOf(added, state.containers), rest, ...findings.problems]
      .filter(Boolean)
      .join('; '),
  }
}
