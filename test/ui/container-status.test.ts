import t from 'tap'
import { containerStatus, durationWords } from '../../services/ui/layout.js'

// A container's status on the stack page is derived from since when it is
// in its state, at render time (the engine's words are frozen at the check):
// "Up Less than a second" read a minute later says a minute.

const NOW = new Date('2026-12-04T01:00:00.000Z')
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString()

t.test('durations in the engine’s words', async (t) => {
  t.equal(durationWords(0), '0 seconds')
  t.equal(durationWords(1000), '1 second')
  t.equal(durationWords(59_999), '59 seconds')
  t.equal(durationWords(60_000), '1 minute')
  t.equal(durationWords(2 * 3_600_000 + 5), '2 hours')
  t.equal(durationWords(3 * 86_400_000), '3 days')
})

t.test('derived from since, not the words of the check', async (t) => {
  const running = { state: 'running', status: 'Up Less than a second', since: ago(61_000) }
  t.match(containerStatus(running, NOW), />Up 1 minute</)
  t.match(containerStatus(running, NOW), `data-since="${running.since}"`)
  const exited = {
    state: 'exited',
    status: 'Exited (137) Less than a second ago',
    since: ago(3 * 3_600_000),
  }
  t.match(containerStatus(exited, NOW), />Exited \(137\) 3 hours ago</)
  t.equal(
    containerStatus({ state: 'restarting', status: 'Restarting (1) 2 seconds ago' }, NOW),
    'Restarting (1) 2 seconds ago',
    'unknown since: the engine’s words',
  )
  t.equal(
    containerStatus({ state: 'paused', status: 'Up 2 minutes (Paused)', since: ago(1) }, NOW),
    'Up 2 minutes (Paused)',
  )
})
