import t from 'tap'
import {
  createImageWatch,
  findingsOf,
  type ImageAnswer,
  type ImageRef,
  NO_SETTINGS,
  parseImageRef,
  readStackSettings,
  type StackHostState,
  watchedServices,
  withImageFindings,
} from '../../services/host/index.js'

// The pure rules of image updates, detect (the real registry's side is
// test/host/image-detect.test.ts): which services are watched (policy:
// service over stack over IMAGE_UPDATES; an image from a registry, its
// containers' digest known), what an answer means for them, how a finding
// enters a check, and that a watch tells only stacks whose findings changed.

const DIGEST_A = `sha256:${'a'.repeat(64)}`
const DIGEST_B = `sha256:${'b'.repeat(64)}`

function stateWith(settings: unknown, extra: Partial<StackHostState> = {}): StackHostState {
  return {
    status: 'synced',
    reason: 'the host runs what Git says',
    plan: [],
    containers: [
      {
        name: 's-app-1',
        service: 'app',
        state: 'running',
        status: 'Up',
        image: 'r/app:1',
        digest: DIGEST_A,
      },
      {
        name: 's-db-1',
        service: 'db',
        state: 'running',
        status: 'Up',
        image: 'r/db:1',
        digest: DIGEST_A,
      },
      { name: 's-built-1', service: 'built', state: 'running', status: 'Up', image: 'built:1' },
    ],
    settings: settings === undefined ? NO_SETTINGS : readStackSettings(settings),
    images: [
      { service: 'app', reference: 'r/app:1' },
      { service: 'built', reference: 'built:1' },
      { service: 'db', reference: 'r/db:1' },
    ],
    ...extra,
  }
}

const asked = (digest: string): ImageAnswer => ({
  kind: 'asked',
  ref: parseImageRef('r/app:1') as ImageRef,
  answer: { ok: true, digest, requests: 1 },
  at: 0,
})

t.test('which services are watched', async (t) => {
  t.same(
    watchedServices(stateWith(undefined), 'off'),
    [],
    'IMAGE_UPDATES=off and nothing set: none',
  )
  t.same(
    watchedServices(stateWith(undefined), 'detect').map((w) => w.service),
    ['app', 'db'],
    'IMAGE_UPDATES=detect: every service with a digest (the built one has none)',
  )
  t.same(
    watchedServices(
      stateWith({ image_updates: 'detect', services: { db: { image_updates: 'off' } } }),
      'off',
    ).map((w) => w.service),
    ['app'],
    'the stack says detect, a service says off',
  )
  t.same(
    watchedServices(stateWith({ services: { db: { image_updates: 'detect' } } }), 'off'),
    [{ service: 'db', reference: 'r/db:1', running: [DIGEST_A] }],
    'only a service says detect',
  )
})

t.test('what the answers mean', async (t) => {
  const watched = [{ service: 'app', reference: 'r/app:1', running: [DIGEST_A] }]
  t.same(findingsOf(watched, new Map([['r/app:1', asked(DIGEST_A)]])), { moved: [], problems: [] })
  t.same(findingsOf(watched, new Map([['r/app:1', asked(DIGEST_B)]])), {
    moved: [{ service: 'app', reference: 'r/app:1', running: DIGEST_A, current: DIGEST_B }],
    problems: [],
  })
  t.same(
    findingsOf(
      watched,
      new Map<string, ImageAnswer>([
        [
          'r/app:1',
          {
            kind: 'asked',
            ref: parseImageRef('r/app:1') as ImageRef,
            answer: {
              ok: false,
              kind: 'unreachable',
              reason: 'docker.io/r/app:1: the registry answered 503',
              requests: 1,
            },
            at: 0,
          },
        ],
      ]),
    ),
    {
      moved: [],
      problems: [
        'image check failed for service app: docker.io/r/app:1: the registry answered 503',
      ],
    },
  )
})

t.test('a failed ask does not take back a tag known to have moved', async (t) => {
  const watched = [{ service: 'app', reference: 'r/app:1', running: [DIGEST_A] }]
  const failed = (known?: string): ImageAnswer => ({
    kind: 'asked',
    ref: parseImageRef('r/app:1') as ImageRef,
    answer: { ok: false, kind: 'unreachable', reason: 'down', requests: 1 },
    at: 0,
    ...(known ? { known } : {}),
  })
  t.same(findingsOf(watched, new Map([['r/app:1', failed(DIGEST_B)]])), {
    moved: [{ service: 'app', reference: 'r/app:1', running: DIGEST_A, current: DIGEST_B }],
    problems: ['image check failed for service app: down'],
  })
  t.same(
    findingsOf(watched, new Map([['r/app:1', failed(DIGEST_A)]])).moved,
    [],
    'known to name what runs: nothing moved',
  )
  // A registry that fails every other round: the stack stays out of sync.
  let up = true
  const statuses: string[] = []
  const watch = createImageWatch({
    checks: {
      check: async (refs) =>
        new Map(refs.map((ref) => [ref, up ? asked(DIGEST_B) : failed(DIGEST_B)])),
    },
    defaultPolicy: 'detect',
    intervalMs: 0,
    stacks: () => [{ path: 'one', check: stateWith(undefined) }],
    changed: () => {},
  })
  t.teardown(() => watch.close())
  for (let round = 0; round < 4; round++) {
    up = round % 2 === 0
    await watch.checkNow()
    const found = watch.findings('one')
    statuses.push(found ? withImageFindings(stateWith(undefined), found).status : 'synced')
  }
  t.same(statuses, ['out_of_sync', 'out_of_sync', 'out_of_sync', 'out_of_sync'])
})

t.test('a finding in a check', async (t) => {
  const moved = { service: 'app', reference: 'r/app:1', running: DIGEST_A, current: DIGEST_B }
  const state = withImageFindings(stateWith(undefined), { moved: [moved], problems: [] })
  t.equal(state.status, 'out_of_sync')
  t.same(state.plan, [
    {
      service: 'app',
      container: 's-app-1',
      action: 'update',
      image: { reference: 'r/app:1', running: DIGEST_A, current: DIGEST_B },
    },
  ])
  t.equal(
    state.reason,
    `image of service app: r/app:1 moved to sha256:bbbbbbbbbbbb in the registry (it runs sha256:aaaaaaaaaaaa)`,
  )
  const pulled = stateWith(undefined)
  pulled.containers[0] = {
    ...(pulled.containers[0] as StackHostState['containers'][number]),
    digest: DIGEST_B,
  }
  t.equal(
    withImageFindings(pulled, { moved: [moved], problems: [] }).status,
    'synced',
    'pulled since: nothing pending',
  )
  const recreated = stateWith(undefined, {
    status: 'out_of_sync',
    plan: [{ service: 'app', container: 's-app-1', action: 'recreate' }],
    reason: 'service app would be recreated',
  })
  t.same(
    withImageFindings(recreated, { moved: [moved], problems: [] }).plan.map((e) => e.action),
    ['recreate'],
    'Compose replaces it anyway: one entry',
  )
  const failing = withImageFindings(stateWith(undefined), {
    moved: [],
    problems: ['image check failed for service app: down'],
  })
  t.equal(failing.status, 'synced', 'a failed ask: the host still runs what it ran')
  t.equal(failing.reason, 'the host runs what Git says; image check failed for service app: down')
})

t.test('a round tells only the stacks whose findings changed', async (t) => {
  let digest = DIGEST_A
  const changed: string[] = []
  const watch = createImageWatch({
    checks: { check: async (refs) => new Map(refs.map((ref) => [ref, asked(digest)])) },
    defaultPolicy: 'detect',
    intervalMs: 0,
    stacks: () => [
      { path: 'one', check: stateWith(undefined) },
      { path: 'two', check: stateWith({ image_updates: 'off' }) },
    ],
    changed: (path) => changed.push(path),
  })
  t.teardown(() => watch.close())
  await watch.start()
  t.same(changed, [], 'no poll interval: no round at startup')
  await watch.checkNow()
  t.same(changed, [], 'nothing moved: nothing to tell')
  digest = DIGEST_B
  await watch.checkNow()
  t.same(changed, ['one'], 'the watched stack, once')
  t.equal(watch.findings('one')?.moved.length, 2, 'both of its services')
  t.equal(watch.findings('two'), undefined)
  await watch.checkNow()
  t.same(changed, ['one'], 'the same findings: not told again')
  digest = DIGEST_A
  await watch.checkNow()
  t.same(changed, ['one', 'one'], 'back: told once more')
  t.equal(watch.findings('one'), undefined)
})

t.test('requests during a round share the one round queued after it', async (t) => {
  const rounds: boolean[] = []
  let release: () => void = () => {}
  const watch = createImageWatch({
    checks: {
      check: async (refs, force) => {
        rounds.push(force ?? false)
        if (rounds.length === 1) await new Promise<void>((resolve) => (release = resolve))
        return new Map(refs.map((ref) => [ref, asked(DIGEST_A)]))
      },
    },
    defaultPolicy: 'detect',
    intervalMs: 0,
    stacks: () => [{ path: 'one', check: stateWith(undefined) }],
    changed: () => {},
  })
  t.teardown(() => watch.close())
  const first = watch.checkNow(true)
  await new Promise((resolve) => setImmediate(resolve))
  const waiting = Array.from({ length: 10 }, () => watch.checkNow(true))
  release()
  await Promise.all([first, ...waiting])
  t.same(rounds, [true, true], 'the running round, then one for the ten requests')
  const unforced = watch.checkNow(false)
  const forced = watch.checkNow(true)
  await Promise.all([unforced, forced])
  t.same(rounds.slice(2), [false, true], 'a manual request does not join a timer round')
})
