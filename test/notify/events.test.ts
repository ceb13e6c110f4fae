import t from 'tap'
import {
  EVENT_KINDS,
  factsOf,
  plainTextOf,
  severityOf,
  shortRevision,
  summaryOf,
  titleOf,
  truncate,
} from '../../services/notify/index.js'
import { engineDownEvent, eventOf, failedEvent, REVISION } from '../helpers/notify-events.js'

// The words every channel shows: the headline per kind, the one-sentence
// summary, the facts and the plain-text body.

t.test('a headline per kind, in words, with short revisions', async (t) => {
  const expected: Record<(typeof EVENT_KINDS)[number], string> = {
    failed: 'web failed to deploy 3f2a1c0',
    rolled_back: 'web rolled back to 1b2c3d4 after 3f2a1c0 failed',
    recovered: 'web recovered: 3f2a1c0 is running',
    drift: 'web drifted from Git (expected 3f2a1c0)',
    healed: 'web repaired by self-heal (back to 3f2a1c0)',
    pruned: 'web taken down (no longer in Git)',
    engine_down: 'Docker engine unreachable on prod-1',
    engine_up: 'Docker engine reachable again on prod-1',
    git_failing: 'Refresh from Git failing on prod-1',
    git_recovered: 'Refresh from Git working again on prod-1',
    deployed: 'web deployed 3f2a1c0',
    image_updated: 'web runs a new image (its tag moved in the registry)',
    test: 'Test message from docker-cd on prod-1',
  }
  for (const kind of EVENT_KINDS) {
    const extra =
      kind === 'rolled_back'
        ? { rolledBackTo: failedEvent.rolledBackTo }
        : kind.startsWith('engine') || kind.startsWith('git') || kind === 'test'
          ? { stack: undefined, revision: undefined }
          : {}
    t.equal(titleOf(eventOf(kind, extra)), expected[kind], kind)
  }
  t.equal(titleOf(failedEvent), 'web failed to deploy 3f2a1c0 (rolled back to 1b2c3d4)')
  t.equal(titleOf(eventOf('failed', { revision: undefined })), 'web failed to deploy')
})

t.test('the summary adds the host when the headline lacks it, then the reason', async (t) => {
  t.equal(
    summaryOf(failedEvent),
    'web failed to deploy 3f2a1c0 (rolled back to 1b2c3d4) on prod-1: container web-app-1 exited with code 1 during the health check',
  )
  t.equal(
    summaryOf(engineDownEvent),
    'Docker engine unreachable on prod-1: the Docker socket refused connections for 2 minutes',
  )
  t.equal(summaryOf({ ...engineDownEvent, reason: ' ' }), 'Docker engine unreachable on prod-1')
})

t.test('facts and the plain-text body', async (t) => {
  t.same(factsOf(failedEvent), [
    { label: 'Stack', value: 'web' },
    { label: 'Host', value: 'prod-1' },
    { label: 'Commit', value: '3f2a1c0 Raise the worker count' },
    { label: 'Rolled back to', value: '1b2c3d4' },
    { label: 'At', value: '2026-12-03T03:04:05.000Z' },
  ])
  t.same(factsOf(engineDownEvent), [
    { label: 'Host', value: 'prod-1' },
    { label: 'At', value: '2026-12-03T03:10:00.000Z' },
  ])
  t.equal(
    plainTextOf(failedEvent),
    [
      summaryOf(failedEvent),
      '',
      'Stack: web',
      'Host: prod-1',
      'Commit: 3f2a1c0 Raise the worker count',
      'Rolled back to: 1b2c3d4',
      'At: 2026-12-03T03:04:05.000Z',
      'Stack page: https://cd.example.org/stacks/web',
    ].join('\n'),
  )
})

t.test('severity, short revisions and truncation', async (t) => {
  t.equal(severityOf(failedEvent), 'failure')
  t.equal(severityOf(eventOf('drift')), 'warning')
  t.equal(severityOf(eventOf('recovered')), 'success')
  t.equal(severityOf(eventOf('test')), 'info')
  t.equal(shortRevision(REVISION), '3f2a1c0')
  t.equal(shortRevision(`${REVISION}${'a'.repeat(24)}`), '3f2a1c0', 'SHA-256 repositories too')
  t.equal(shortRevision('v1.2.3'), 'v1.2.3', 'not a hash: shown as given')
  t.equal(truncate('abcdef', 4), 'abc…')
  t.equal(truncate('abc', 4), 'abc')
})
