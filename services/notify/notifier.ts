import type { Config } from '../../schemas/config.js'
import { commitSubject } from '../git/index.js'
import type { RefreshObserver } from '../refresh/index.js'
import type { SyncObserver, SyncRunFinished } from '../sync/index.js'
import { parseNotifyUrls } from './channels.js'
import {
  type CommitStatusClient,
  type CommitStatusProblem,
  type CommitStatusTarget,
  commitStatusTarget,
  createCommitStatusClient,
} from './commit-status/index.js'
import { createDelivery, type DeliveryOptions, type DeliveryResult } from './delivery.js'
import type { NotifyEvent } from './events.js'
import { createNotices } from './notices.js'
import { parseNotifyOn } from './notify-on.js'
import type { Channel } from './request.js'

// Notifications and commit statuses, built from the configuration in one
// place and wired to what docker-cd observes — never into the reconciler:
// the sync observer (runs, take-downs, drift checks), the refresh observer
// (Git failing and back) and the engine watch (lost and back). notices.ts
// decides what is worth a message; this adds each commit's subject line and
// hands the message to delivery.ts, which never holds anything up.
// Commit statuses follow the runs: `pending` when a deploy of a commit
// starts, `success` or `failure` when it ends.

export type NotifierSettings = Pick<
  Config,
  | 'instanceName'
  | 'publicUrl'
  | 'notifyUrls'
  | 'notifyOn'
  | 'notifyEngineDownAfterMs'
  | 'notifyGitFailingAfterMs'
  | 'commitStatus'
  | 'commitStatusToken'
  | 'commitStatusProvider'
  | 'commitStatusApiUrl'
  | 'gitRepoUrl'
  | 'gitAccessToken'
>

type Plan = {
  channels: Channel[]
  on: ReturnType<typeof parseNotifyOn>['on']
  commitStatus?: { target: CommitStatusTarget; token: string }
}

function plan(settings: NotifierSettings): { plan: Plan; problems: string[] } {
  const parsed = settings.notifyUrls
    ? parseNotifyUrls(settings.notifyUrls)
    : { channels: [], problems: [] }
  const on = parseNotifyOn(settings.notifyOn)
  const problems = [...parsed.problems, ...on.problems]
  let commitStatus: Plan['commitStatus']
  if (settings.commitStatus) {
    const target = commitStatusTarget({
      repoUrl: settings.gitRepoUrl,
      ...(settings.commitStatusProvider ? { provider: settings.commitStatusProvider } : {}),
      ...(settings.commitStatusApiUrl ? { apiUrl: settings.commitStatusApiUrl } : {}),
    })
    const token = settings.commitStatusToken ?? settings.gitAccessToken
    if ('problem' in target) problems.push(target.problem)
    else if (!token)
      problems.push(
        'COMMIT_STATUS_TOKEN: required with COMMIT_STATUS=true when GIT_ACCESS_TOKEN is not set (a token that may write commit statuses)',
      )
    else commitStatus = { target, token }
  }
  return { plan: { channels: parsed.channels, on: on.on, commitStatus }, problems }
}

/** Startup problems of NOTIFY_URLS, NOTIFY_ON and COMMIT_STATUS*, one line each (no secret in any). */
export function notifierProblems(settings: NotifierSettings): string[] {
  return plan(settings).problems
}

export type NotifierLog = {
  info(details: object, message: string): void
  warn(details: object, message: string): void
  debug(details: object, message: string): void
}

export type NotifierOptions = {
  settings: NotifierSettings
  /** A commit's raw object from the mirror (its subject line goes into messages). */
  readCommit: (sha: string) => Promise<Buffer | undefined>
  log: NotifierLog
  /** Each delivery's result (metrics). */
  onResult?: (result: DeliveryResult) => void
  /** Each commit status call that went through or not (metrics). */
  onCommitStatus?: (outcome: 'sent' | 'rejected' | 'unreachable') => void
} & Partial<Pick<DeliveryOptions, 'send' | 'timeoutMs' | 'retries' | 'backoff' | 'queueLimit'>> & {
    /** Commit status calls: bound on one, and the pause before the one retry (tests shorten them). */
    commitStatusTimeoutMs?: number
    commitStatusRetryDelayMs?: number
  }

const SUBJECTS_KEPT = 64

export function createNotifier(options: NotifierOptions) {
  const { settings, log } = options
  const { plan: configured, problems } = plan(settings)
  // main.ts refuses to start on these; a caller that did not ask gets them here.
  if (problems.length > 0) throw new Error(problems.join('\n'))
  const delivery = createDelivery({
    channels: configured.channels,
    ...(options.send ? { send: options.send } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.backoff ? { backoff: options.backoff } : {}),
    ...(options.queueLimit !== undefined ? { queueLimit: options.queueLimit } : {}),
    onResult(result) {
      if (result.outcome === 'dropped')
        log.warn(
          { channel: result.channel, event: result.event, stack: result.stack },
          `notification not delivered to ${result.channel}: ${result.reason}`,
        )
      else
        log.debug(
          { channel: result.channel, event: result.event, stack: result.stack },
          `notification delivered to ${result.channel}${result.note ? ` (${result.note})` : ''}`,
        )
      options.onResult?.(result)
    },
  })

  // Subjects by commit (a commit never changes), read from the mirror once.
  const subjects = new Map<string, Promise<string | undefined>>()
  function subjectOf(sha: string): Promise<string | undefined> {
    let subject = subjects.get(sha)
    if (!subject) {
      subject = options.readCommit(sha).then(
        (commit) => (commit ? commitSubject(commit) : undefined),
        () => undefined,
      )
      subjects.set(sha, subject)
      if (subjects.size > SUBJECTS_KEPT) subjects.delete(subjects.keys().next().value as string)
    }
    return subject
  }

  // Messages leave in the order they were decided (a recovery never before
  // its failure), each after its subject was looked up.
  let chain: Promise<void> = Promise.resolve()
  function emit(event: NotifyEvent) {
    log.info(
      { event: event.event, stack: event.stack, revision: event.revision },
      `notification: ${event.event}${event.stack ? ` ${event.stack}` : ''}: ${event.reason}`,
    )
    if (configured.channels.length === 0) return
    chain = chain.then(async () => {
      const subject = event.revision ? await subjectOf(event.revision) : undefined
      delivery.enqueue(subject && !event.subject ? withSubject(event, subject) : event)
    })
  }

  const notices = createNotices({
    instance: settings.instanceName,
    on: configured.on,
    ...(settings.publicUrl ? { publicUrl: settings.publicUrl } : {}),
    engineThresholdMs: settings.notifyEngineDownAfterMs,
    gitThresholdMs: settings.notifyGitFailingAfterMs,
    emit,
  })

  const statuses = configured.commitStatus
    ? createCommitStatusClient({
        target: configured.commitStatus.target,
        token: configured.commitStatus.token,
        instance: settings.instanceName,
        timeoutMs: options.commitStatusTimeoutMs ?? 10_000,
        ...(options.commitStatusRetryDelayMs !== undefined
          ? { retryDelayMs: options.commitStatusRetryDelayMs }
          : {}),
        onRejected: (problem: CommitStatusProblem) =>
          log.warn(
            { stack: problem.stack, state: problem.state, status: problem.status },
            `commit status not written (${problem.kind}): ${problem.reason}; not retried until the next deploy of the stack`,
          ),
      })
    : undefined
  const pageOf = (stack: string) =>
    settings.publicUrl
      ? `${settings.publicUrl.replace(/\/+$/, '')}/ui/stacks/${encodeURIComponent(stack)}`
      : undefined
  // Tracked so shutdown can give them a moment, and tests can wait for them.
  const inFlight = new Set<Promise<unknown>>()
  function report(
    client: CommitStatusClient,
    stack: string,
    sha: string,
    state: 'pending' | 'success' | 'failure',
    description: string,
  ) {
    const call = client.report(stack, sha, state, description, pageOf(stack)).then((result) => {
      options.onCommitStatus?.(result.ok ? 'sent' : result.problem.kind)
    })
    inFlight.add(call)
    void call.finally(() => inFlight.delete(call))
  }

  /** Is this run a deploy of a commit (a status on it), rather than the host's repair or a registry's change? */
  const reportsStatus = (event: { trigger: string; revision: string }) =>
    event.trigger !== 'self-heal' &&
    event.trigger !== 'image' &&
    /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/i.test(event.revision)

  function finished(event: SyncRunFinished) {
    if (!statuses || !reportsStatus(event)) return
    // Interrupted by shutdown: the deploy is finished (and reported) at the next start.
    if (event.result === 'interrupted') return
    report(
      statuses,
      event.stack,
      event.revision,
      event.result === 'completed' ? 'success' : 'failure',
      event.message,
    )
  }

  const syncObserver: SyncObserver = {
    runStarted(event) {
      if (statuses && reportsStatus(event))
        report(
          statuses,
          event.stack,
          event.revision,
          'pending',
          `deploying on ${settings.instanceName}`,
        )
    },
    runFinished(event) {
      notices.syncObserver.runFinished?.(event)
      finished(event)
    },
    stackRemoved: (event) => notices.syncObserver.stackRemoved?.(event),
    driftChecked(event) {
      if (event.drifted) notices.driftDetected(event.stack, event.reason, event.revision)
      else notices.inLine(event)
    },
  }

  const refreshObserver: RefreshObserver = {
    refreshFinished(outcome) {
      if (outcome.status === 'completed') notices.refreshSucceeded()
      else if (outcome.error?.reason !== 'aborted')
        notices.refreshFailed(outcome.error?.message ?? outcome.message)
    },
  }

  return {
    syncObserver,
    refreshObserver,
    /** Deploy records at startup: failures told before a restart are remembered, not told again. */
    rememberFailures(
      records: readonly { stack: string; failedTreeHash?: string; rolledBackTo?: unknown }[],
    ) {
      for (const record of records)
        if (record.failedTreeHash)
          notices.rememberFailure(
            record.stack,
            record.failedTreeHash,
            record.rolledBackTo ? 'rolled_back' : 'failed',
          )
    },
    engineLost: (reason: string) => notices.engineLost(reason),
    engineBack: () => notices.engineBack(),
    /** A test message to every channel, one attempt each, with each result. */
    test(): Promise<DeliveryResult[]> {
      return delivery.sendNow({
        version: 1,
        event: 'test',
        instance: settings.instanceName,
        reason: 'a test message from docker-cd: this channel works',
        at: new Date().toISOString(),
      })
    },
    /** Shutdown began: a test message still being sent answers now (not sent), not after its timeout. */
    interruptTests: () => delivery.interruptTests(),
    /** Channels (kind and host only) with their queue and latest result; where statuses go. */
    status: () => ({
      channels: delivery.status().map(({ display, kind, queued, last }) => ({
        channel: display,
        kind,
        queued,
        ...(last ? { last } : {}),
      })),
      on: [...configured.on],
      commitStatus: configured.commitStatus
        ? {
            provider: configured.commitStatus.target.provider,
            api: new URL(configured.commitStatus.target.apiBase).host,
          }
        : null,
    }),
    /** Resolves when every message decided so far was delivered or dropped, and every status call ended. */
    async settled(): Promise<void> {
      for (;;) {
        const pending = chain
        await pending
        await delivery.drained()
        await Promise.all(inFlight)
        if (pending === chain && inFlight.size === 0) return
      }
    },
    /** Shutdown: nothing new is told; what is queued gets `graceMs` to go out. */
    async close(graceMs = 2000): Promise<void> {
      notices.close()
      // One grace for everything: subjects still being read, then the queues and statuses.
      const deadline = Date.now() + graceMs
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())
      await Promise.race([chain, grace])
      await Promise.all([
        delivery.close(Math.max(0, deadline - Date.now())),
        Promise.race([Promise.all(inFlight), grace]),
      ])
    },
  }
}

function withSubject(event: NotifyEvent, subject: string): NotifyEvent {
  // The documented field order (the generic webhook sends this object as is).
  const { version, event: kind, instance, stack, revision, ...rest } = event
  return {
    version,
    event: kind,
    instance,
    ...(stack !== undefined ? { stack } : {}),
    ...(revision !== undefined ? { revision } : {}),
    subject,
    ...rest,
  }
}

export type Notifier = ReturnType<typeof createNotifier>
