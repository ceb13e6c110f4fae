import { type Timers, unrefTimers } from '../refresh/index.js'
import type { SyncObserver, SyncRunFinished, SyncStackRemoved } from '../sync/index.js'
import type { EventKind, NotifyEvent } from './events.js'
import { DEFAULT_NOTIFY_ON } from './notify-on.js'

// What docker-cd observes, turned into messages worth reading: one per
// change of state, never one per poll or retry. Pure: no I/O; the clock and
// the timers are handed in, and every message leaves through `emit`.
//
// The rules, per stack:
// - A deploy that fails for the tree's own reason (validation, pull, build,
//   up, health) is `failed`, or `rolled_back` (naming the tree put back)
//   when the run rolled back. It is told once per stack + tree + kind: the
//   same tree failing again (a retry, a manual sync, the next refresh) is
//   silent; another tree failing, or the same tree failing the other way
//   (rolled back where it was not), is told.
// - Runs that failed through no fault of the tree — interrupted by a
//   shutdown, docker-cd's own side (`local`), the engine not answering —
//   are no per-stack message (the engine outage has its own) and change
//   nothing of what was told.
// - The first completed run after a told failure is `recovered`, once.
// - Otherwise a completed self-heal run is `healed`, and a completed
//   routine deploy that changed something (a new tree or changed services)
//   is `deployed` (opt-in, not in the default set); a completed image
//   update (a moved tag deployed on the same tree: nobody committed it) is
//   `image_updated`, in the default set. A failed one is told per digest.
// - Drift (driftDetected: the host left the deployed tree, not Git) is
//   `drift` once per episode; the episode ends when a run of the stack
//   completes (healed, redeployed, recovered), a check finds the host in
//   line again (inLine: repaired by hand), or the stack is taken down.
// - A told failure also ends when a check finds the stack in line with the
//   tree docker-cd deployed while Git's tree is that one again (the bad
//   commit reverted: no deploy is needed): `recovered`, once.
// - Flapping: the first heal told opens a window of an hour (FLAP_WINDOW_MS).
//   Within it, further drift and heals of that stack are silent and
//   counted; when the window closes having seen more heals, one `healed`
//   summary says "healed N times in the last hour" (N counting every heal
//   of the window, the told one included) and a new window opens at once,
//   so a stack that keeps flapping costs one message an hour. A window that
//   closes with no further heal ends the flapping: the next drift is a new
//   episode, told again.
// - A stack taken down by prune is `pruned`; a take-down that failed for a
//   reason of its own is `failed` (once per tree, as above). Either way the
//   stack's state is forgotten.
//
// For the instance:
// - engineLost starts a timer of engineThresholdMs; only if the engine is
//   still lost when it fires, `engine_down`; engineBack then sends
//   `engine_up` once. Back before the threshold: nothing at all.
// - refreshFailed starts a timer of gitThresholdMs at the first failure of
//   a run of failures; if no refresh succeeded when it fires,
//   `git_failing` (with the latest reason); the next success sends
//   `git_recovered` once. A success before the threshold: nothing.
//
// What is remembered is remembered whatever `on` says (a recovery is told
// even when failures were filtered out); `on` only decides what is emitted.

export const FLAP_WINDOW_MS = 60 * 60 * 1000

/** Failure kinds that say nothing about the stack's tree. */
const NOT_THE_TREE = new Set(['engine', 'local', 'interrupted'])

type StackState = {
  /** The failure last told: `${tree} ${kind}`. */
  toldFailure?: string
  /** Drift told, and the stack not synced since. */
  drifting?: boolean
  /** An open flapping window: heals seen in it, the timer that closes it. */
  flap?: { heals: number; timer: unknown; revision: string }
}

export type NoticesOptions = {
  instance: string
  on?: ReadonlySet<EventKind>
  /** Base URL of the dashboard (PUBLIC_URL), without a trailing slash needed. */
  publicUrl?: string
  /** A commit's subject line, when known. */
  subjectOf?: (revision: string) => string | undefined
  now?: () => Date
  timers?: Timers
  engineThresholdMs: number
  gitThresholdMs: number
  emit: (event: NotifyEvent) => void
}

/** A duration in the largest whole unit that fits: `90s` → `1 min`. */
export function durationWords(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s} s`
  const min = Math.round(s / 60)
  if (min < 120) return `${min} min`
  return `${Math.round(min / 60)} h`
}

export function createNotices(options: NoticesOptions) {
  const on = options.on ?? DEFAULT_NOTIFY_ON
  const now = options.now ?? (() => new Date())
  const timers = options.timers ?? unrefTimers
  const base = options.publicUrl?.replace(/\/+$/, '')
  const stacks = new Map<string, StackState>()
  let closed = false

  function stateOf(stack: string): StackState {
    let state = stacks.get(stack)
    if (!state) {
      state = {}
      stacks.set(stack, state)
    }
    return state
  }

  function send(
    kind: EventKind,
    fields: { stack?: string; revision?: string; reason: string } & Pick<
      NotifyEvent,
      'rolledBackTo'
    >,
  ) {
    if (closed || !on.has(kind)) return
    const subject = fields.revision ? options.subjectOf?.(fields.revision) : undefined
    const event: NotifyEvent = {
      version: 1,
      event: kind,
      instance: options.instance,
      ...(fields.stack !== undefined ? { stack: fields.stack } : {}),
      ...(fields.revision ? { revision: fields.revision } : {}),
      ...(subject ? { subject } : {}),
      reason: fields.reason,
      at: now().toISOString(),
      ...(fields.rolledBackTo
        ? {
            rolledBackTo: {
              revision: fields.rolledBackTo.revision,
              treeHash: fields.rolledBackTo.treeHash,
            },
          }
        : {}),
      ...(base && fields.stack !== undefined
        ? { url: `${base}/ui/stacks/${encodeURIComponent(fields.stack)}` }
        : {}),
    }
    options.emit(event)
  }

  function closeFlapWindow(stack: string) {
    const state = stacks.get(stack)
    const flap = state?.flap
    if (!state || !flap) return
    if (flap.heals <= 1) {
      delete state.flap
      return
    }
    send('healed', {
      stack,
      revision: flap.revision,
      reason: `healed ${flap.heals} times in the last hour: something keeps changing it (self-heal repairs it each time)`,
    })
    openFlapWindow(stack, state, flap.revision, 0)
  }

  function openFlapWindow(stack: string, state: StackState, revision: string, heals: number) {
    state.flap = {
      heals,
      revision,
      timer: timers.setTimeout(() => closeFlapWindow(stack), FLAP_WINDOW_MS),
    }
  }

  function healed(event: SyncRunFinished, state: StackState) {
    if (state.flap) {
      state.flap.heals += 1
      state.flap.revision = event.revision
      return
    }
    send('healed', { stack: event.stack, revision: event.revision, reason: event.message })
    openFlapWindow(event.stack, state, event.revision, 1)
  }

  function runFinished(event: SyncRunFinished) {
    const state = stateOf(event.stack)
    if (event.result === 'completed') {
      const wasFailing = state.toldFailure !== undefined
      delete state.toldFailure
      delete state.drifting
      if (wasFailing)
        send('recovered', { stack: event.stack, revision: event.revision, reason: event.message })
      else if (event.trigger === 'self-heal') healed(event, state)
      else if (event.run.imageUpdates?.length && event.fromTree === event.treeHash)
        send('image_updated', {
          stack: event.stack,
          revision: event.revision,
          reason: event.message,
        })
      else if (event.fromTree !== event.treeHash || event.servicesChanged.length > 0)
        send('deployed', { stack: event.stack, revision: event.revision, reason: event.message })
      return
    }
    const failure = event.failure
    if (event.result !== 'failed' || !failure || NOT_THE_TREE.has(failure.kind)) return
    const kind: EventKind = event.rolledBackTo ? 'rolled_back' : 'failed'
    // A failed image update is told per digest: the next one the tag names is news.
    const digests = (event.run.imageUpdates ?? []).map((update) => update.current).join(',')
    const key = `${event.treeHash} ${kind}${digests ? ` ${digests}` : ''}`
    if (state.toldFailure === key) return
    state.toldFailure = key
    send(kind, {
      stack: event.stack,
      revision: event.revision,
      reason: event.message,
      ...(event.rolledBackTo ? { rolledBackTo: event.rolledBackTo } : {}),
    })
  }

  function forget(stack: string) {
    const flap = stacks.get(stack)?.flap
    if (flap) timers.clearTimeout(flap.timer)
    stacks.delete(stack)
  }

  function stackRemoved(event: SyncStackRemoved) {
    if (event.result === 'deleted') {
      forget(event.stack)
      send('pruned', { stack: event.stack, revision: event.revision, reason: event.message })
      return
    }
    if (!event.failure || NOT_THE_TREE.has(event.failure.kind)) return
    const state = stateOf(event.stack)
    const key = `${event.treeHash} down`
    if (state.toldFailure === key) return
    state.toldFailure = key
    send('failed', { stack: event.stack, revision: event.revision, reason: event.message })
  }

  const syncObserver: SyncObserver = { runFinished, stackRemoved }

  /**
   * A failure told before docker-cd restarted (its deploy record says the
   * tree failed): remembered without a message, so that the same tree stays
   * silent and the stack's next success is its recovery.
   */
  function rememberFailure(stack: string, treeHash: string, kind: 'failed' | 'rolled_back') {
    stateOf(stack).toldFailure = `${treeHash} ${kind}`
  }

  /**
   * A check found the stack in line with the tree docker-cd deployed: a
   * drift episode ends, silently. A told failure of another tree ends too:
   * the failed change left Git (reverted) and the host runs what it ran,
   * so nothing had to be deployed — that is the stack's recovery.
   */
  function inLine(event: {
    stack: string
    revision: string
    treeHash: string
    reason: string
    health?: string
  }) {
    const state = stacks.get(event.stack)
    if (!state) return
    delete state.drifting
    if (state.toldFailure === undefined || state.toldFailure.startsWith(`${event.treeHash} `))
      return
    // A recovery passed a health gate; without a run, the check's health is
    // the gate: a stack still starting or unhealthy recovers at a later check.
    if (event.health !== undefined && event.health !== 'healthy') return
    delete state.toldFailure
    send('recovered', {
      stack: event.stack,
      revision: event.revision,
      reason: `the failed change is no longer in Git: the stack runs tree ${event.treeHash.slice(0, 7)} again, as deployed (${event.reason})`,
    })
  }

  /** An owned stack left its deployed tree (not from Git: someone stopped or changed it). */
  function driftDetected(stack: string, reason: string, revision?: string) {
    const state = stateOf(stack)
    if (state.drifting || state.flap) return
    state.drifting = true
    send('drift', { stack, ...(revision ? { revision } : {}), reason })
  }

  // An outage, told only once it lasted its threshold, and its end only when
  // its start was told.
  function createOutage(
    thresholdMs: number,
    down: (reason: string, lastedMs: number) => void,
    up: (lastedMs: number) => void,
  ) {
    let since: Date | undefined
    let reason = ''
    let timer: unknown
    let told = false
    return {
      failed(why: string) {
        reason = why
        if (since) return
        since = now()
        timer = timers.setTimeout(() => {
          timer = undefined
          told = true
          down(reason, now().getTime() - (since as Date).getTime())
        }, thresholdMs)
      },
      succeeded() {
        if (!since) return
        const lastedMs = now().getTime() - since.getTime()
        if (timer !== undefined) timers.clearTimeout(timer)
        timer = undefined
        since = undefined
        if (told) up(lastedMs)
        told = false
      },
      close() {
        if (timer !== undefined) timers.clearTimeout(timer)
        timer = undefined
      },
    }
  }

  const engine = createOutage(
    options.engineThresholdMs,
    (reason, lasted) =>
      send('engine_down', { reason: `unreachable for ${durationWords(lasted)}: ${reason}` }),
    (lasted) =>
      send('engine_up', { reason: `answering again after ${durationWords(lasted)} unreachable` }),
  )
  const git = createOutage(
    options.gitThresholdMs,
    (reason, lasted) =>
      send('git_failing', { reason: `failing for ${durationWords(lasted)}: ${reason}` }),
    (lasted) =>
      send('git_recovered', { reason: `refreshing again after ${durationWords(lasted)} failing` }),
  )

  return {
    syncObserver,
    driftDetected,
    inLine,
    rememberFailure,
    engineLost: (reason: string) => engine.failed(reason),
    engineBack: () => engine.succeeded(),
    refreshFailed: (reason: string) => git.failed(reason),
    refreshSucceeded: () => git.succeeded(),
    /** Clears every timer; nothing is emitted afterwards. */
    close() {
      closed = true
      engine.close()
      git.close()
      for (const state of stacks.values()) if (state.flap) timers.clearTimeout(state.flap.timer)
      stacks.clear()
    },
  }
}

export type Notices = ReturnType<typeof createNotices>
