// The one message every notification channel renders. The sync and refresh
// observers (notices.ts, through notifier.ts) turn a state change into a NotifyEvent; each
// channel turns it into the request its service documents. The generic
// webhook sends this very object as JSON, so its field names are a public
// contract: `version` is bumped on any change a receiver could trip over.
//
// The helpers below are the words an operator reads at 3 a.m.: what happened
// to which stack, at which commit, on which host, and why — no internal terms
// (no "reconcile", no "tree hash" in the headline).

export const EVENT_KINDS = [
  'failed',
  'rolled_back',
  'recovered',
  'drift',
  'healed',
  'pruned',
  'engine_down',
  'engine_up',
  'git_failing',
  'git_recovered',
  'deployed',
  'image_updated',
  'test',
] as const

export type EventKind = (typeof EVENT_KINDS)[number]

export type NotifyEvent = {
  version: 1
  event: EventKind
  /** The docker-cd instance (host) name, so one channel can serve many hosts. */
  instance: string
  stack?: string
  /** The commit the event is about (full hash; shortened only for display). */
  revision?: string
  /** That commit's subject line. */
  subject?: string
  /** Why, in words (the failing step's reason, the drift found, …). */
  reason: string
  /** When it happened, ISO 8601. */
  at: string
  /** Where a failed deploy was put back to (and the images a failed image update put back). */
  rolledBackTo?: {
    revision: string
    treeHash: string
    images?: { service: string; reference: string; imageId: string; digest?: string }[]
  }
  /** The stack's dashboard page, when a public URL is configured. */
  url?: string
}

/**
 * How bad it is, in the four words Apprise uses (`info`, `success`,
 * `warning`, `failure`); every channel maps these to its own colour,
 * priority or tag, so a kind's weight is decided in one place.
 */
export type Severity = 'failure' | 'warning' | 'success' | 'info'

const SEVERITY: Record<EventKind, Severity> = {
  failed: 'failure',
  rolled_back: 'failure',
  engine_down: 'failure',
  git_failing: 'failure',
  drift: 'warning',
  pruned: 'warning',
  recovered: 'success',
  healed: 'success',
  engine_up: 'success',
  git_recovered: 'success',
  deployed: 'success',
  image_updated: 'success',
  test: 'info',
}

export function severityOf(event: Pick<NotifyEvent, 'event'>): Severity {
  return SEVERITY[event.event]
}

/** Commit hashes shown as Git shows them (7 characters); anything else as given. */
export function shortRevision(revision: string): string {
  return /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/i.test(revision) ? revision.slice(0, 7) : revision
}

function at(revision: string | undefined): string {
  return revision === undefined || revision === '' ? '' : ` ${shortRevision(revision)}`
}

/** The headline: one line, what happened to what. */
export function titleOf(event: NotifyEvent): string {
  const stack = event.stack ?? 'a stack'
  const back = event.rolledBackTo ? shortRevision(event.rolledBackTo.revision) : undefined
  switch (event.event) {
    case 'failed':
      return `${stack} failed to deploy${at(event.revision)}${back ? ` (rolled back to ${back})` : ''}`
    case 'rolled_back':
      if (event.rolledBackTo?.images?.length)
        return `${stack} rolled back to its previous image (${event.rolledBackTo.images.map((image) => `${image.service} on ${(image.digest ?? image.imageId).replace(/^sha256:([0-9a-f]{12}).*$/, 'sha256:$1')}`).join(', ')})`
      return back
        ? `${stack} rolled back to ${back}${event.revision ? ` after${at(event.revision)} failed` : ''}`
        : `${stack} rolled back${event.revision ? ` after${at(event.revision)} failed` : ''}`
    case 'recovered':
      return `${stack} recovered${event.revision ? `:${at(event.revision)} is running` : ''}`
    case 'drift':
      return `${stack} drifted from Git${event.revision ? ` (expected${at(event.revision)})` : ''}`
    case 'healed':
      return `${stack} repaired by self-heal${event.revision ? ` (back to${at(event.revision)})` : ''}`
    case 'pruned':
      return `${stack} taken down (no longer in Git)`
    case 'deployed':
      return `${stack} deployed${at(event.revision)}`
    case 'image_updated':
      return `${stack} runs a new image (its tag moved in the registry)`
    case 'engine_down':
      return `Docker engine unreachable on ${event.instance}`
    case 'engine_up':
      return `Docker engine reachable again on ${event.instance}`
    case 'git_failing':
      return `Refresh from Git failing on ${event.instance}`
    case 'git_recovered':
      return `Refresh from Git working again on ${event.instance}`
    case 'test':
      return `Test message from docker-cd on ${event.instance}`
  }
}

/** Whether the headline already names the host (instance-level events do). */
function namesInstance(event: NotifyEvent): boolean {
  return (
    event.stack === undefined || event.event.startsWith('engine') || event.event.startsWith('git')
  )
}

/** One sentence: the headline, the host when the headline lacks it, and the reason. */
export function summaryOf(event: NotifyEvent): string {
  const where = namesInstance(event) ? '' : ` on ${event.instance}`
  const reason = event.reason.trim()
  return reason === '' ? `${titleOf(event)}${where}` : `${titleOf(event)}${where}: ${reason}`
}

export type Fact = { label: string; value: string }

/**
 * The details beside the headline, in the order an operator looks for them;
 * channels with fields (Slack, Discord, Teams) show these as fields, plain
 * text channels as `Label: value` lines.
 */
export function factsOf(event: NotifyEvent): Fact[] {
  const facts: Fact[] = []
  if (event.stack !== undefined) facts.push({ label: 'Stack', value: event.stack })
  facts.push({ label: 'Host', value: event.instance })
  if (event.revision) {
    const subject = event.subject?.trim()
    facts.push({
      label: 'Commit',
      value: subject
        ? `${shortRevision(event.revision)} ${subject}`
        : shortRevision(event.revision),
    })
  }
  if (event.rolledBackTo)
    facts.push({ label: 'Rolled back to', value: shortRevision(event.rolledBackTo.revision) })
  facts.push({ label: 'At', value: event.at })
  return facts
}

/** The whole message as plain text (e-mail, ntfy, Gotify, Apprise bodies). */
export function plainTextOf(event: NotifyEvent): string {
  const lines = [summaryOf(event), '', ...factsOf(event).map((f) => `${f.label}: ${f.value}`)]
  if (event.url) lines.push(`Stack page: ${event.url}`)
  return lines.join('\n')
}

/** Cuts text to a service's limit, marking the cut so nobody mistakes it for the whole. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text
  return `${text.slice(0, Math.max(0, max - 1))}…`
}
