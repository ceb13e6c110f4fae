import t from 'tap'
import {
  createImageChecks,
  createRegistryClient,
  type ImageRef,
  type RemoteDigest,
} from '../../services/host/index.js'

// The pure rules of asking registries (a fake client: what is asked, and
// when): once per repository and tag per interval however many stacks use
// it, pinned and invalid references never asked, a failure kept and asked
// again after a back-off that doubles up to the interval, a manual request
// asking again. The real registry's side is test/host/registry.test.ts.

function fakeClient(
  answer: (ref: ImageRef) => RemoteDigest = () => ({ ok: true, digest: 'sha256:1', requests: 1 }),
) {
  const asked: string[] = []
  return {
    asked,
    client: {
      remoteDigest: async (ref: ImageRef) => {
        asked.push(`${ref.registry}/${ref.repository}:${ref.tag}`)
        return answer(ref)
      },
    },
  }
}

t.test('one ask per repository and tag per interval, whatever uses it', async (t) => {
  let clock = 0
  const { client, asked } = fakeClient()
  const checks = createImageChecks({ client, intervalMs: 1000, now: () => clock })
  const references = [
    ...Array.from({ length: 200 }, () => 'postgres:16'),
    'docker.io/library/postgres:16',
    'ghcr.io/org/app:stable',
    'ghcr.io/org/app',
    `nginx@sha256:${'a'.repeat(64)}`,
    'Not/Valid:ref:x',
  ]
  const answers = await checks.check(references)
  t.same(asked.sort(), [
    'docker.io/library/postgres:16',
    'ghcr.io/org/app:latest',
    'ghcr.io/org/app:stable',
  ])
  t.match(answers.get('postgres:16'), { kind: 'asked', answer: { ok: true, digest: 'sha256:1' } })
  t.match(
    answers.get('docker.io/library/postgres:16'),
    { kind: 'asked' },
    'the same tag, written another way',
  )
  t.match(answers.get(`nginx@sha256:${'a'.repeat(64)}`), { kind: 'pinned' })
  t.match(answers.get('Not/Valid:ref:x'), { kind: 'invalid', problem: /./ })
  clock = 999
  await checks.check(references)
  t.equal(asked.length, 3, 'within the interval: nothing asked again')
  clock = 1000
  await checks.check(['postgres:16'])
  t.equal(asked.length, 4, 'the interval passed: asked again')
  await checks.check(['postgres:16'], true)
  t.equal(asked.length, 5, 'a manual request asks again')
})

t.test('concurrent rounds share one ask', async (t) => {
  const { client, asked } = fakeClient()
  const checks = createImageChecks({ client, intervalMs: 1000 })
  await Promise.all([
    checks.check(['app:1']),
    checks.check(['app:1']),
    checks.check(['app:1'], true),
  ])
  t.equal(asked.length, 1)
})

t.test(
  'a failing registry is asked again after a back-off, doubling up to the interval',
  async (t) => {
    let clock = 0
    let up = false
    const { client, asked } = fakeClient(() =>
      up
        ? { ok: true, digest: 'sha256:2', requests: 1 }
        : { ok: false, kind: 'unreachable', reason: 'down', requests: 1 },
    )
    const checks = createImageChecks({
      client,
      intervalMs: 10_000,
      retryMs: 1000,
      now: () => clock,
    })
    t.match((await checks.check(['app:1'])).get('app:1'), {
      kind: 'asked',
      answer: { ok: false, reason: 'down' },
    })
    const when = async (at: number) => {
      clock = at
      await checks.check(['app:1'])
      return asked.length
    }
    t.equal(await when(999), 1, 'kept for the first back-off (1 s)')
    t.equal(await when(1000), 2, 'asked again')
    t.equal(await when(2999), 2, 'then 2 s')
    t.equal(await when(3000), 3)
    t.equal(await when(6999), 3, 'then 4 s')
    t.equal(await when(7000), 4)
    t.equal(await when(14_999), 4, 'then 8 s')
    t.equal(await when(15_000), 5)
    t.equal(await when(24_999), 5, 'never longer than the interval (10 s)')
    up = true
    t.equal(await when(25_000), 6)
    t.match((await checks.check(['app:1'])).get('app:1'), {
      answer: { ok: true, digest: 'sha256:2' },
    })
    t.equal(await when(34_999), 6, 'answered: kept for the whole interval')
  },
)

t.test('a failed ask keeps the digest the tag was last known to name', async (t) => {
  let up = true
  const { client } = fakeClient(() =>
    up
      ? { ok: true, digest: 'sha256:2', requests: 1 }
      : { ok: false, kind: 'unreachable', reason: 'down', requests: 1 },
  )
  const checks = createImageChecks({ client, intervalMs: 10_000 })
  t.notOk(((await checks.check(['app:1'])).get('app:1') as { known?: string }).known)
  up = false
  t.match((await checks.check(['app:1'], true)).get('app:1'), {
    kind: 'asked',
    answer: { ok: false, reason: 'down' },
    known: 'sha256:2',
  })
  t.match(
    (await checks.check(['app:1'], true)).get('app:1'),
    { known: 'sha256:2' },
    'failing again: still known',
  )
  t.notOk(
    ((await checks.check(['other:1'], true)).get('other:1') as { known?: string }).known,
    'never answered: nothing known',
  )
})

t.test('the real client never throws: a closed port is an answer', async (t) => {
  const client = createRegistryClient({ credentials: async () => undefined, timeoutMs: 2000 })
  const checks = createImageChecks({ client, intervalMs: 1000 })
  const answers = await checks.check(['127.0.0.1:1/app:1'])
  t.match(answers.get('127.0.0.1:1/app:1'), {
    kind: 'asked',
    answer: { ok: false, kind: 'unreachable', reason: /cannot be reached \(ECONNREFUSED\)/ },
  })
})
