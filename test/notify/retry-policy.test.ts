import t from 'tap'
import { durationWords, networkFailure } from '../../services/base/failure-words.js'
import { exponentialBackoff } from '../../services/notify/backoff.js'
import { mailFailure } from '../../services/notify/mail-sender.js'
import { retryAfterMs } from '../../services/notify/retry-after.js'

// The pure parts of the retry policy: Retry-After in both forms, the
// back-off schedule, and errors reduced to words (codes only, never the
// message, which may quote the URL).

t.test('Retry-After: seconds or an HTTP date; nonsense ignored', async (t) => {
  const now = Date.parse('Thu, 03 Dec 2026 19:00:00 GMT')
  t.equal(retryAfterMs('120', now), 120_000)
  t.equal(retryAfterMs(' 0 ', now), 0)
  t.equal(retryAfterMs('1.5', now), 1500, 'Discord sends fractions')
  t.equal(retryAfterMs('Thu, 03 Dec 2026 19:00:30 GMT', now), 30_000)
  t.equal(retryAfterMs('Thu, 03 Dec 2026 18:59:00 GMT', now), 0, 'a date in the past: now')
  t.equal(retryAfterMs(['5', '9'], now), 5000)
  t.equal(retryAfterMs('soon', now), undefined)
  t.equal(retryAfterMs('-3', now), undefined)
  t.equal(retryAfterMs(undefined, now), undefined)
  t.equal(retryAfterMs('', now), undefined)
})

t.test('back-off doubles up to its cap, jitter only shortens', async (t) => {
  const steady = exponentialBackoff({ initialMs: 1000, maxMs: 5000, random: () => 0 })
  t.same([1, 2, 3, 4, 5].map(steady), [1000, 2000, 4000, 5000, 5000])
  const jittered = exponentialBackoff({
    initialMs: 1000,
    maxMs: 5000,
    jitter: 0.2,
    random: () => 1,
  })
  t.same([1, 2, 3].map(jittered), [800, 1600, 3200])
  const defaults = exponentialBackoff({ random: () => 0 })
  t.same([1, 6, 10].map(defaults), [1000, 30_000, 30_000])
})

t.test('network errors by code, along the cause chain', async (t) => {
  const wrapped = new TypeError('fetch failed https://hooks.slack.com/services/T/B/SECRET', {
    cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
  })
  t.same(networkFailure(wrapped), { reason: 'connection refused', retry: true })
  t.same(networkFailure({ code: 'ENOTFOUND' }), { reason: 'host not found', retry: true })
  t.same(networkFailure({ code: 'CERT_HAS_EXPIRED' }), {
    reason: 'TLS certificate expired',
    retry: false,
  })
  t.same(networkFailure({ code: 'ESOMETHING_NEW' }), {
    reason: 'network error (ESOMETHING_NEW)',
    retry: true,
  })
  t.same(
    networkFailure(new Error('https://user:secret@host/ failed')),
    {
      reason: 'network error',
      retry: true,
    },
    'the message is never used',
  )
  t.same(networkFailure({ code: 'lower case https://x' }), { reason: 'network error', retry: true })
})

t.test('SMTP failures: 4xx again, 5xx never, login and TLS named', async (t) => {
  t.same(mailFailure({ code: 'EENVELOPE', responseCode: 451 }), {
    ok: false,
    reason: 'SMTP 451',
    retry: true,
  })
  t.same(mailFailure({ code: 'EMESSAGE', responseCode: 554 }), {
    ok: false,
    reason: 'SMTP 554',
    retry: false,
  })
  t.same(mailFailure({ code: 'EAUTH', responseCode: 535 }), {
    ok: false,
    reason: 'SMTP authentication failed',
    retry: false,
  })
  t.same(mailFailure({ code: 'ESOCKET', originalCode: 'ECONNREFUSED' }), {
    ok: false,
    reason: 'connection refused',
    retry: true,
  })
  t.same(mailFailure({ code: 'ETLS' }), { ok: false, reason: 'STARTTLS failed', retry: false })
  t.same(mailFailure(undefined), { ok: false, reason: 'network error', retry: true })
})

t.test('durations as people write them', async (t) => {
  t.equal(durationWords(250), '250ms')
  t.equal(durationWords(5000), '5s')
  t.equal(durationWords(1500), '1.5s')
})
