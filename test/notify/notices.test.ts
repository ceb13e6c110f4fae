import t from 'tap'
import {
  createNotices,
  DEFAULT_NOTIFY_ON,
  EVENT_KINDS,
  type EventKind,
  FLAP_WINDOW_MS,
  type NotifyEvent,
  parseNotifyOn,
} from '../../services/notify/index.js'
import type { SyncRunFinished, SyncStackRemoved, SyncTrigger } from '../../services/sync/index.js'

// Which observations become messages: one per change of state, never one
// per poll or retry. A fake clock and fake timers stand in for time.

const TREE_A = 'a'.repeat(40)
const TREE_B = 'b'.repeat(40)
const GOOD = { revision: '1'.repeat(40), treeHash: 'c'.repeat(40) }
const REV_A = '3f2a1c0d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49'
const REV_B = '4e3b2d1c0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c'
const T0 = Date.parse('2026-12-03T03:00:00.000Z')

function fakeTime() {
  let clock = T0
  let nextId = 0
  const pending = new Map<number, { at: number; fn: () => void }>()
  return {
    now: () => new Date(clock),
    timers: {
      setTimeout(fn: () => void, ms: number) {
        nextId += 1
        pending.set(nextId, { at: clock + ms, fn })
        return nextId
      },
      clearTimeout(handle: unknown) {
        pending.delete(handle as number)
      },
    },
    pending: () => pending.size,
    /** Moves the clock on, firing each timer that falls due, in order, at its time. */
    advance(ms: number) {
      const end = clock + ms
      for (;;) {
        const due = [...pending.entries()]
          .filter(([, timer]) => timer.at <= end)
          .sort((a, b) => a[1].at - b[1].at)[0]
        if (!due) break
        pending.delete(due[0])
        clock = due[1].at
        due[1].fn()
      }
      clock = end
    },
  }
}

function setup(extra: { on?: ReadonlySet<EventKind>; publicUrl?: string | null } = {}) {
  const time = fakeTime()
  const events: NotifyEvent[] = []
  const notices = createNotices({
    instance: 'prod-1',
    ...(extra.on ? { on: extra.on } : {}),
    ...(extra.publicUrl === null
      ? {}
      : { publicUrl: extra.publicUrl ?? 'https://cd.example.org/' }),
    subjectOf: (revision) => (revision === REV_A ? 'Raise the worker count' : undefined),
    now: time.now,
    timers: time.timers,
    engineThresholdMs: 60_000,
    gitThresholdMs: 300_000,
    emit: (event) => events.push(event),
  })
  const kinds = () => events.map((event) => event.event)
  return { time, events, kinds, notices }
}

function run(
  stack: string,
  result: SyncRunFinished['result'],
  extra: Partial<SyncRunFinished> & { trigger?: SyncTrigger } = {},
): SyncRunFinished {
  const trigger = extra.trigger ?? 'git'
  const revision = extra.revision ?? REV_A
  const treeHash = extra.treeHash ?? TREE_A
  return {
    stack,
    trigger,
    revision,
    treeHash,
    fromTree: GOOD.treeHash,
    result,
    servicesChanged: ['app'],
    message: result === 'completed' ? 'deployed' : 'service app never got healthy',
    ...(result === 'failed'
      ? { failure: { kind: 'health' as const, message: 'service app never got healthy' } }
      : {}),
    run: {
      trigger,
      startedAt: new Date(T0).toISOString(),
      finishedAt: new Date(T0).toISOString(),
      durationMs: 0,
      toTree: treeHash,
      revision,
      result,
      servicesChanged: [],
      reason: 'x',
    },
    ...extra,
  }
}

t.test('a tree failing again and again is told once; another tree failing is told', async (t) => {
  const { notices, events, kinds, time } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  finished(run('web app', 'failed'))
  time.advance(1000)
  finished(run('web app', 'failed', { trigger: 'retry' }))
  finished(run('web app', 'failed', { trigger: 'manual' }))
  t.same(kinds(), ['failed'], 'three failures of one tree: one message')
  t.same(events[0], {
    version: 1,
    event: 'failed',
    instance: 'prod-1',
    stack: 'web app',
    revision: REV_A,
    subject: 'Raise the worker count',
    reason: 'service app never got healthy',
    at: '2026-12-03T03:00:00.000Z',
    url: 'https://cd.example.org/ui/stacks/web%20app',
  })
  finished(run('web app', 'failed', { treeHash: TREE_B, revision: REV_B }))
  t.same(kinds(), ['failed', 'failed'], 'a new tree failing is a new message')
  t.equal(events[1]?.revision, REV_B)
  t.notOk('subject' in (events[1] ?? {}), 'no subject when the commit has none known')
  t.equal(events[1]?.at, '2026-12-03T03:00:01.000Z', 'at is the clock when it was told')
  finished(run('api', 'failed'))
  t.same(kinds(), ['failed', 'failed', 'failed'], 'another stack on the same tree is its own')
})

t.test('a rollback is told as rolled_back, naming the tree put back, once per tree', async (t) => {
  const { notices, events, kinds } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  finished(run('web', 'failed', { rolledBackTo: GOOD }))
  finished(run('web', 'failed', { rolledBackTo: GOOD, trigger: 'retry' }))
  t.same(kinds(), ['rolled_back'])
  t.same(events[0]?.rolledBackTo, GOOD)
  finished(run('web', 'failed'))
  t.same(kinds(), ['rolled_back', 'failed'], 'the same tree failing the other way is told')
  t.notOk('rolledBackTo' in (events[1] ?? {}))
})

t.test('recovery: the first completed run after a failure, once', async (t) => {
  const { notices, events, kinds } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  finished(run('web', 'completed'))
  t.same(kinds(), [], 'a routine deploy is not in the default set')
  finished(run('web', 'failed', { treeHash: TREE_B, revision: REV_B }))
  finished(run('web', 'completed'))
  finished(run('web', 'completed', { trigger: 'manual' }))
  t.same(kinds(), ['failed', 'recovered'])
  t.equal(events[1]?.revision, REV_A)
  t.equal(events[1]?.reason, 'deployed')
  finished(run('web', 'failed', { treeHash: TREE_B, revision: REV_B }))
  t.same(kinds(), ['failed', 'recovered', 'failed'], 'after a recovery the old tree failing is new')
})

t.test('engine, local and interrupted failures are no per-stack message', async (t) => {
  const { notices, kinds } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  for (const kind of ['engine', 'local', 'interrupted'] as const)
    finished(
      run('web', kind === 'interrupted' ? 'interrupted' : 'failed', {
        failure: { kind, message: 'no' },
      }),
    )
  finished(run('web', 'completed'))
  t.same(kinds(), [], 'nothing failed for the tree, so nothing recovered either')
  finished(run('web', 'failed'))
  finished(run('web', 'failed', { failure: { kind: 'engine', message: 'gone' } }))
  finished(run('web', 'failed', { trigger: 'retry' }))
  finished(run('web', 'completed'))
  t.same(kinds(), ['failed', 'recovered'], 'an engine failure between leaves the told one be')
})

t.test('deployed is opt-in, and only for a run that changed something', async (t) => {
  const { notices, events, kinds } = setup({ on: new Set<EventKind>(['deployed']) })
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  finished(run('web', 'completed'))
  t.same(kinds(), ['deployed'])
  t.equal(events[0]?.stack, 'web')
  finished(run('web', 'completed', { fromTree: TREE_A, servicesChanged: [] }))
  t.same(kinds(), ['deployed'], 'a run that changed nothing is silent')
  finished(run('web', 'failed'))
  t.same(kinds(), ['deployed'], 'failed is filtered out by on')
  finished(run('web', 'completed', { treeHash: TREE_B }))
  t.same(kinds(), ['deployed'], 'the recovery is remembered (not told as deployed) though filtered')
})

t.test('a take-down by prune is pruned; a failed take-down is told once', async (t) => {
  const { notices, events, kinds } = setup()
  const removed = notices.syncObserver.stackRemoved as (event: SyncStackRemoved) => void
  const base = { stack: 'old', project: 'old', revision: REV_A, treeHash: TREE_A }
  removed({
    ...base,
    result: 'failed',
    message: 'take-down failed',
    failure: { kind: 'down', message: 'x' },
  })
  removed({
    ...base,
    result: 'failed',
    message: 'take-down failed',
    failure: { kind: 'down', message: 'x' },
  })
  removed({
    ...base,
    result: 'failed',
    message: 'engine',
    failure: { kind: 'engine', message: 'x' },
  })
  removed({ ...base, result: 'deleted', message: 'removed from Git: taken down' })
  t.same(kinds(), ['failed', 'pruned'])
  t.equal(events[1]?.reason, 'removed from Git: taken down')
  t.equal(events[1]?.url, 'https://cd.example.org/ui/stacks/old')
})

t.test('drift is told once per episode; a completed run ends the episode', async (t) => {
  const { notices, events, kinds } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  notices.driftDetected('web', 'container web-app-1 stopped', REV_A)
  notices.driftDetected('web', 'container web-app-1 stopped', REV_A)
  notices.driftDetected('web', 'container web-app-2 stopped', REV_A)
  t.same(kinds(), ['drift'])
  t.equal(events[0]?.reason, 'container web-app-1 stopped')
  t.equal(events[0]?.subject, 'Raise the worker count')
  finished(run('web', 'completed', { trigger: 'manual' }))
  notices.driftDetected('web', 'container web-app-1 stopped', REV_A)
  t.same(kinds(), ['drift', 'drift'], 'synced again, then drifted: a new episode')
  notices.driftDetected('api', 'edited', REV_A)
  t.same(kinds(), ['drift', 'drift', 'drift'], 'each stack its own episode')
})

t.test('self-heal: drift then healed; a flapping stack is summarised once an hour', async (t) => {
  const { notices, events, kinds, time } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  const flap = () => {
    notices.driftDetected('web', 'container web-app-1 stopped', REV_A)
    finished(run('web', 'completed', { trigger: 'self-heal', message: 'repaired' }))
  }
  flap()
  t.same(kinds(), ['drift', 'healed'])
  t.equal(events[1]?.reason, 'repaired')
  for (let i = 0; i < 3; i++) {
    time.advance(10 * 60_000)
    flap()
  }
  t.same(kinds(), ['drift', 'healed'], 'further drift and heals within the hour are silent')
  time.advance(FLAP_WINDOW_MS - 30 * 60_000 - 1)
  t.same(kinds(), ['drift', 'healed'], 'no summary before the hour is over')
  time.advance(1)
  t.same(kinds(), ['drift', 'healed', 'healed'], 'one summary when the hour closes')
  t.match(events[2]?.reason, /^healed 4 times in the last hour/)
  t.equal(events[2]?.at, new Date(T0 + FLAP_WINDOW_MS).toISOString())
  time.advance(5 * 60_000)
  flap()
  flap()
  time.advance(FLAP_WINDOW_MS)
  t.same(kinds(), ['drift', 'healed', 'healed', 'healed'], 'still flapping: one summary an hour')
  t.match(events[3]?.reason, /^healed 2 times in the last hour/)
  time.advance(FLAP_WINDOW_MS)
  t.same(kinds(), ['drift', 'healed', 'healed', 'healed'], 'an hour with no heal: no summary')
  flap()
  t.same(
    kinds(),
    ['drift', 'healed', 'healed', 'healed', 'drift', 'healed'],
    'after a quiet hour, drift is a new episode',
  )
})

t.test('a single heal sends no summary', async (t) => {
  const { notices, kinds, time } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  notices.driftDetected('web', 'stopped', REV_A)
  finished(run('web', 'completed', { trigger: 'self-heal' }))
  time.advance(3 * FLAP_WINDOW_MS)
  t.same(kinds(), ['drift', 'healed'])
  t.equal(time.pending(), 0, 'the window closed for good')
})

t.test('engine: down only after the threshold, back once; back before it: nothing', async (t) => {
  const { notices, events, kinds, time } = setup()
  notices.engineLost('connect ENOENT /var/run/docker.sock')
  time.advance(59_999)
  notices.engineBack()
  time.advance(120_000)
  t.same(kinds(), [], 'back before the threshold: nothing at all')
  notices.engineBack()
  t.same(kinds(), [], 'back without being lost: nothing')

  notices.engineLost('connect ENOENT /var/run/docker.sock')
  time.advance(30_000)
  notices.engineLost('still gone')
  time.advance(30_000)
  t.same(kinds(), ['engine_down'], 'told when the threshold passed, counted from the first loss')
  t.equal(events[0]?.reason, 'unreachable for 60 s: still gone')
  t.notOk('stack' in (events[0] ?? {}) || 'url' in (events[0] ?? {}), 'an instance event')
  time.advance(600_000)
  notices.engineLost('again')
  t.same(kinds(), ['engine_down'], 'lost while lost: nothing more')
  notices.engineBack()
  notices.engineBack()
  t.same(kinds(), ['engine_down', 'engine_up'])
  t.equal(events[1]?.reason, 'answering again after 11 min unreachable')
})

t.test('git: failing after the threshold of continuous failure, recovered once', async (t) => {
  const { notices, events, kinds, time } = setup()
  notices.refreshFailed('authentication failed')
  time.advance(200_000)
  notices.refreshSucceeded()
  time.advance(400_000)
  t.same(kinds(), [], 'a success before the threshold ends the run of failures silently')

  notices.refreshFailed('authentication failed')
  time.advance(100_000)
  notices.refreshFailed('host not found')
  time.advance(199_999)
  t.same(kinds(), [])
  time.advance(1)
  t.same(kinds(), ['git_failing'])
  t.equal(events[0]?.reason, 'failing for 5 min: host not found')
  notices.refreshFailed('host not found')
  time.advance(1_000_000)
  t.same(kinds(), ['git_failing'], 'failing on: told once')
  notices.refreshSucceeded()
  notices.refreshSucceeded()
  t.same(kinds(), ['git_failing', 'git_recovered'])
})

t.test('on filters what is emitted, not what is remembered', async (t) => {
  const { notices, kinds, time } = setup({ on: new Set<EventKind>(['engine_up', 'recovered']) })
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  notices.driftDetected('web', 'stopped', REV_A)
  finished(run('web', 'failed'))
  notices.engineLost('gone')
  time.advance(60_000)
  t.same(kinds(), [], 'drift, failed and engine_down are not wanted')
  notices.engineBack()
  finished(run('web', 'completed'))
  t.same(kinds(), ['engine_up', 'recovered'], 'their ends are, as their starts were seen')
})

t.test('without a public URL no url; close() clears every timer', async (t) => {
  const { notices, events, kinds, time } = setup({ publicUrl: null })
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  finished(run('web', 'failed'))
  t.notOk('url' in (events[0] ?? {}))
  notices.engineLost('gone')
  notices.refreshFailed('gone')
  notices.driftDetected('api', 'stopped', REV_A)
  finished(run('api', 'completed', { trigger: 'self-heal' }))
  t.equal(time.pending(), 3, 'engine, git and flapping timers pending')
  notices.close()
  t.equal(time.pending(), 0)
  time.advance(10 * FLAP_WINDOW_MS)
  finished(run('web', 'failed', { treeHash: TREE_B }))
  t.same(kinds(), ['failed', 'drift', 'healed'], 'nothing after close')
})

t.test('parseNotifyOn: kinds, all, default, and unknown words named', async (t) => {
  t.same([...parseNotifyOn(undefined).on].sort(), [...DEFAULT_NOTIFY_ON].sort())
  t.same([...parseNotifyOn(' ').on].sort(), [...DEFAULT_NOTIFY_ON].sort())
  t.notOk(DEFAULT_NOTIFY_ON.has('deployed'))
  t.equal(DEFAULT_NOTIFY_ON.size, 11)
  t.same([...parseNotifyOn('failed, Recovered').on], ['failed', 'recovered'])
  const all = parseNotifyOn('all')
  t.same([...all.on].sort(), EVENT_KINDS.filter((kind) => kind !== 'test').sort())
  const more = parseNotifyOn('default,deployed')
  t.ok(more.on.has('deployed') && more.on.has('drift') && more.on.size === 12)
  const wrong = parseNotifyOn('failed,deploys,outage')
  t.same([...wrong.on], ['failed'])
  t.equal(wrong.problems.length, 2)
  t.match(wrong.problems[0], /NOTIFY_ON: unknown event kind "deploys"/)
  t.match(wrong.problems[1], /"outage"/)
  t.same(parseNotifyOn('all').problems, [])
})

// inLine: a check found the stack in line with the tree docker-cd deployed
// (the notifier hears it from the reconciler's driftChecked, drifted false).
const inLineOf = (stack: string, treeHash: string, revision = REV_A) => ({
  stack,
  revision,
  treeHash,
  reason: 'the host runs what Git says',
})

t.test('inLine ends a drift episode silently: the next drift is told again', async (t) => {
  const { notices, kinds } = setup()
  notices.driftDetected('web', 'container web-app-1 stopped', REV_A)
  notices.driftDetected('web', 'container web-app-1 stopped', REV_A)
  t.same(kinds(), ['drift'])
  notices.inLine(inLineOf('web', TREE_A))
  notices.inLine(inLineOf('web', TREE_A))
  t.same(kinds(), ['drift'], 'back in line (repaired by hand): nothing is told')
  notices.driftDetected('web', 'container web-app-2 stopped', REV_A)
  t.same(kinds(), ['drift', 'drift'], 'drifting again is a new episode')
  notices.driftDetected('web', 'container web-app-2 stopped', REV_A)
  t.same(kinds(), ['drift', 'drift'], 'and told once again')
  notices.inLine(inLineOf('api', TREE_A))
  notices.driftDetected('web', 'still stopped', REV_A)
  t.same(kinds(), ['drift', 'drift'], 'another stack in line ends nothing of this one')
})

t.test('a told failure of tree A ends with one recovered when tree B is in line', async (t) => {
  const { notices, events, kinds } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  // Tree B was deployed; a commit brought tree A, which failed and was rolled back.
  finished(run('web', 'completed', { treeHash: TREE_B, revision: REV_B }))
  finished(run('web', 'failed', { treeHash: TREE_A, revision: REV_A, rolledBackTo: GOOD }))
  t.same(kinds(), ['rolled_back'])
  // The bad commit is reverted: Git's tree is B again, the host runs B, nothing to deploy.
  notices.inLine(inLineOf('web', TREE_B, REV_B))
  t.same(kinds(), ['rolled_back', 'recovered'])
  t.same(events[1], {
    version: 1,
    event: 'recovered',
    instance: 'prod-1',
    stack: 'web',
    revision: REV_B,
    reason:
      'the failed change is no longer in Git: the stack runs tree bbbbbbb again, as deployed (the host runs what Git says)',
    at: '2026-12-03T03:00:00.000Z',
    url: 'https://cd.example.org/ui/stacks/web',
  })
  notices.inLine(inLineOf('web', TREE_B, REV_B))
  finished(run('web', 'completed', { treeHash: TREE_B, revision: REV_B, trigger: 'manual' }))
  t.same(kinds(), ['rolled_back', 'recovered'], 'recovered once: later checks and runs are quiet')
  finished(run('web', 'failed', { treeHash: TREE_A, revision: REV_A }))
  t.same(kinds(), ['rolled_back', 'recovered', 'failed'], 'tree A failing later is told anew')
})

t.test('a revert recovers only once the stack it returns to is healthy', async (t) => {
  const { notices, kinds } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  finished(run('web', 'completed', { treeHash: TREE_B, revision: REV_B }))
  finished(run('web', 'failed', { treeHash: TREE_A, revision: REV_A, rolledBackTo: GOOD }))
  notices.inLine({ ...inLineOf('web', TREE_B, REV_B), health: 'progressing' })
  notices.inLine({ ...inLineOf('web', TREE_B, REV_B), health: 'degraded' })
  t.same(kinds(), ['rolled_back'], 'starting or unhealthy: not recovered yet')
  notices.inLine({ ...inLineOf('web', TREE_B, REV_B), health: 'healthy' })
  t.same(kinds(), ['rolled_back', 'recovered'], 'healthy: recovered, once')
  notices.inLine({ ...inLineOf('web', TREE_B, REV_B), health: 'healthy' })
  t.same(kinds(), ['rolled_back', 'recovered'])
})

t.test(
  'a failure remembered from before a restart: silent again, recovered on the next success',
  async (t) => {
    const { notices, kinds } = setup()
    const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
    notices.rememberFailure('web', TREE_A, 'rolled_back')
    t.same(kinds(), [], 'remembered, not told')
    finished(run('web', 'failed', { treeHash: TREE_A, revision: REV_A, rolledBackTo: GOOD }))
    t.same(kinds(), [], 'the same tree failing the same way after the restart: silent')
    finished(run('web', 'completed', { treeHash: TREE_B, revision: REV_B }))
    t.same(kinds(), ['recovered'], 'the next success is the recovery')
    notices.rememberFailure('api', TREE_A, 'failed')
    notices.inLine({ ...inLineOf('api', TREE_B, REV_B), health: 'healthy' })
    t.same(kinds(), ['recovered', 'recovered'], 'a revert after the restart too')
  },
)

t.test('a failed take-down of tree A also ends when tree B is in line', async (t) => {
  const { notices, kinds } = setup()
  const removed = notices.syncObserver.stackRemoved as (event: SyncStackRemoved) => void
  removed({
    stack: 'old',
    project: 'old',
    revision: REV_A,
    treeHash: TREE_A,
    result: 'failed',
    message: 'take-down failed',
    failure: { kind: 'down', message: 'x' },
  })
  notices.inLine(inLineOf('old', TREE_B, REV_B))
  t.same(kinds(), ['failed', 'recovered'])
})

t.test('inLine for the failed tree itself ends nothing', async (t) => {
  const { notices, kinds } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  finished(run('web', 'failed', { treeHash: TREE_A, revision: REV_A }))
  notices.inLine(inLineOf('web', TREE_A))
  notices.inLine(inLineOf('web', TREE_A))
  t.same(kinds(), ['failed'], 'tree A in line is not a recovery from tree A failing')
  finished(run('web', 'failed', { treeHash: TREE_A, revision: REV_A, trigger: 'retry' }))
  t.same(kinds(), ['failed'], 'the failure is still the told one: its retry is silent')
  finished(run('web', 'completed', { treeHash: TREE_A, revision: REV_A, trigger: 'manual' }))
  t.same(kinds(), ['failed', 'recovered'], 'the completed run is the recovery, told once')
})

t.test('inLine for a stack with no state sends nothing and remembers nothing', async (t) => {
  const { notices, kinds, time } = setup({ on: parseNotifyOn('all').on })
  notices.inLine(inLineOf('web', TREE_A))
  notices.inLine(inLineOf('web', TREE_B, REV_B))
  t.same(kinds(), [], 'nothing told, even with every kind wanted')
  t.equal(time.pending(), 0, 'no timer started')
  notices.driftDetected('web', 'stopped', REV_A)
  t.same(kinds(), ['drift'], 'the first drift after it is told')
  // After a prune forgot the stack, a late check in line says nothing either.
  const removed = notices.syncObserver.stackRemoved as (event: SyncStackRemoved) => void
  removed({
    stack: 'web',
    project: 'web',
    revision: REV_A,
    treeHash: TREE_A,
    result: 'deleted',
    message: 'removed from Git: taken down',
  })
  notices.inLine(inLineOf('web', TREE_B, REV_B))
  t.same(kinds(), ['drift', 'pruned'])
})

t.test('inLine after close() sends nothing', async (t) => {
  const { notices, kinds } = setup()
  const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
  finished(run('web', 'failed'))
  notices.close()
  notices.inLine(inLineOf('web', TREE_B, REV_B))
  t.same(kinds(), ['failed'])
})

t.test(
  'image updates: a completed one is told; a failed one is told once per digest',
  async (t) => {
    const { notices, kinds, events } = setup()
    const finished = notices.syncObserver.runFinished as (event: SyncRunFinished) => void
    const REF = 'registry.test/app:stable'
    const imageRun = (
      result: SyncRunFinished['result'],
      current: string,
      extra: Partial<SyncRunFinished> = {},
    ) => {
      const base = run('web', result, { trigger: 'image', fromTree: TREE_A, ...extra })
      return {
        ...base,
        run: {
          ...base.run,
          trigger: 'image' as const,
          imageUpdates: [{ service: 'app', reference: REF, running: 'sha256:old', current }],
        },
      }
    }
    finished(imageRun('completed', 'sha256:one'))
    t.same(kinds(), ['image_updated'], 'a deployed image update is news (nobody committed it)')
    const back = {
      ...GOOD,
      treeHash: TREE_A,
      images: [
        {
          service: 'app',
          reference: REF,
          imageId: 'sha256:id1',
          digest: `sha256:${'1'.repeat(64)}`,
        },
      ],
    }
    finished(imageRun('failed', 'sha256:two', { rolledBackTo: back }))
    finished(imageRun('failed', 'sha256:two', { rolledBackTo: back }))
    t.same(kinds(), ['image_updated', 'rolled_back'], 'the same digest failing again is not')
    t.equal(events[1]?.event, 'rolled_back')
    finished(imageRun('failed', 'sha256:three', { rolledBackTo: back }))
    t.same(
      kinds(),
      ['image_updated', 'rolled_back', 'rolled_back'],
      'the next digest the tag names failing is',
    )
  },
)
