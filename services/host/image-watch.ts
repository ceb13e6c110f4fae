import type { ImageFindings, StackHostState } from './drift.js'
import type { ImageAnswer, ImageChecks } from './registry/index.js'
import type { ImagePolicy } from './stack-settings.js'

// Image updates, detect: every IMAGE_POLL_INTERVAL (and when asked), the
// tags the stacks' services run are asked of their registries (image
// checks: once per repository and tag per interval, however many stacks
// use it), and a service whose tag now names another digest than the one
// its containers run is a finding of its stack. A stack whose findings
// changed is checked again (the monitor merges them into its plan: drift.ts
// withImageFindings), so the status, the reason and the plan say it.
// Watched: services whose policy (`x-docker-cd.services.<svc>.image_updates`,
// else the stack's `x-docker-cd.image_updates`, else IMAGE_UPDATES) is
// `detect` or `apply` (the reconciler deploys those: services/sync), with an image from a registry (no `build:`, no `pull_policy:
// never|build`, not pinned by digest), whose containers run an image pulled
// from that repository (a digest known: an image built here has none).

export type ImageWatchOptions = {
  checks: Pick<ImageChecks, 'check'>
  /** IMAGE_UPDATES: the policy of a stack that names none. */
  defaultPolicy: ImagePolicy
  /** IMAGE_POLL_INTERVAL in ms; 0: only when asked. */
  intervalMs: number
  /** Every stack with its last host check. */
  stacks: () => readonly { path: string; check: StackHostState | undefined }[]
  /** A stack's findings changed: check it again. */
  changed: (path: string) => void
  onError?: (error: unknown) => void
}

/** The policy of one service: its own, else its stack's, else the default. */
export function imagePolicyOf(
  check: StackHostState,
  service: string,
  defaultPolicy: ImagePolicy,
): ImagePolicy {
  const settings = check.settings
  return settings?.serviceImageUpdates[service] ?? settings?.imageUpdates ?? defaultPolicy
}

/** The digests a container's image has in its repository (several: any names what it runs). */
export const digestsOf = (container: { digest?: string; digests?: string[] }): string[] =>
  container.digests ?? (container.digest ? [container.digest] : [])

type Watched = { service: string; reference: string; running: string[] }

/** The services of a stack to ask about, with the digests their containers run. */
export function watchedServices(check: StackHostState, defaultPolicy: ImagePolicy): Watched[] {
  return (check.images ?? [])
    .filter((image) => imagePolicyOf(check, image.service, defaultPolicy) !== 'off')
    .map((image) => ({
      service: image.service,
      reference: image.reference,
      running: [
        ...new Set(
          check.containers
            .filter((container) => container.service === image.service)
            .flatMap(digestsOf),
        ),
      ],
    }))
    .filter((watched) => watched.running.length > 0)
}

/** What the answers say about one stack's watched services. */
export function findingsOf(
  watched: readonly Watched[],
  answers: ReadonlyMap<string, ImageAnswer>,
): ImageFindings {
  const findings: ImageFindings = { moved: [], problems: [] }
  for (const { service, reference, running } of watched) {
    const answer = answers.get(reference)
    if (!answer || answer.kind === 'pinned') continue
    if (answer.kind === 'invalid') {
      findings.problems.push(`image check failed for service ${service}: ${answer.problem}`)
      continue
    }
    if (!answer.answer.ok)
      findings.problems.push(`image check failed for service ${service}: ${answer.answer.reason}`)
    // A failed ask: what the tag last named stands (a moved tag stays moved).
    const current = answer.answer.ok ? answer.answer.digest : answer.known
    if (!current) continue
    if (!running.includes(current))
      findings.moved.push({ service, reference, running: running[0] as string, current })
  }
  return findings
}

export function createImageWatch(options: ImageWatchOptions) {
  const findings = new Map<string, { key: string; findings: ImageFindings }>()
  let timer: NodeJS.Timeout | undefined
  let round: Promise<void> | undefined
  let closed = false

  async function runRound(force: boolean): Promise<void> {
    const stacks = options.stacks().map(({ path, check }) => ({
      path,
      watched: check ? watchedServices(check, options.defaultPolicy) : [],
    }))
    const references = stacks.flatMap((stack) => stack.watched.map((w) => w.reference))
    const answers =
      references.length > 0 ? await options.checks.check(references, force) : new Map()
    if (closed) return
    const seen = new Set<string>()
    for (const { path, watched } of stacks) {
      seen.add(path)
      const found = findingsOf(watched, answers)
      const key = JSON.stringify(found)
      const before = findings.get(path)?.key ?? JSON.stringify({ moved: [], problems: [] })
      if (found.moved.length === 0 && found.problems.length === 0) findings.delete(path)
      else findings.set(path, { key, findings: found })
      if (key !== before) options.changed(path)
    }
    for (const path of [...findings.keys()]) if (!seen.has(path)) findings.delete(path)
  }

  /** The round waiting for the one running, which later requests join. */
  let queued: { force: boolean; round: Promise<void> } | undefined

  /**
   * One round at a time; a request during a round waits for it and runs
   * another, shared by every request until it starts (ten manual requests
   * at once are one more round, not ten rounds of asks).
   */
  function checkNow(force = false): Promise<void> {
    if (queued && (queued.force || !force)) return queued.round
    const previous = round ?? Promise.resolve()
    const entry = { force, round: Promise.resolve() }
    const next = previous
      .catch(() => {})
      .then(() => {
        if (queued === entry) queued = undefined
        return runRound(force)
      })
      .catch((error) => options.onError?.(error))
    entry.round = next
    queued = entry
    round = next
    void next.finally(() => {
      if (round === next) round = undefined
    })
    return next
  }

  function schedule() {
    if (closed || options.intervalMs <= 0) return
    timer = setTimeout(() => {
      void checkNow().finally(schedule)
    }, options.intervalMs)
    timer.unref()
  }
  schedule()

  return {
    /** What the last round found for a stack (none: undefined). */
    findings: (path: string): ImageFindings | undefined => findings.get(path)?.findings,
    /** Asks now (a manual request asks the registries again, whatever is kept). */
    checkNow,
    /** The first round, once the host checks are in (startup); none when only asked for. */
    start: () => (options.intervalMs > 0 ? checkNow() : Promise.resolve()),
    close() {
      closed = true
      clearTimeout(timer)
    },
  }
}

export type ImageWatch = ReturnType<typeof createImageWatch>
