import t from 'tap'
import { readStackSettings } from '../../services/host/stack-settings.js'
import {
  cycleThrough,
  type DependencyState,
  type OrderView,
  orderBlock,
} from '../../services/sync/order.js'

// Unit tests of the order stacks declare between them (`x-docker-cd:
// { depends_on: [...] }`) and of reading that setting: pure functions of a
// view the test writes down.

function view(
  needs: Record<string, string[]>,
  states: Record<string, DependencyState> = {},
  extra: string[] = [],
): OrderView {
  return {
    stacks: new Set([...Object.keys(needs), ...extra]),
    dependsOn: (stack) => needs[stack] ?? [],
    state: (stack) => states[stack] ?? { kind: 'ready' },
  }
}

t.test('no declared order: nothing blocks', async (t) => {
  t.equal(orderBlock('app', view({ app: [] })), undefined)
  t.equal(orderBlock('app', view({}, {}, ['app'])), undefined, 'a stack not checked yet')
  t.equal(cycleThrough('app', view({ app: [] })), undefined)
})

t.test('every dependency ready: it deploys', async (t) => {
  t.equal(orderBlock('app', view({ app: ['cache', 'db'], cache: [], db: [] })), undefined)
})

t.test('a name that is no stack in Git', async (t) => {
  const one = orderBlock('app', view({ app: ['db'] }))
  t.equal(
    one,
    'x-docker-cd.depends_on names "db", which is no stack in Git: not deployed until the name is fixed',
  )
  const two = orderBlock('app', view({ app: ['cache', 'db', 'web'], web: [] }))
  t.match(two, /names "cache", "db", which are no stack in Git/)
  t.notMatch(two, /"web"/, 'a name that exists is not listed')
})

t.test('a two-stack cycle is reported on both stacks', async (t) => {
  const v = view({ a: ['b'], b: ['a'] })
  t.same(cycleThrough('a', v), ['a', 'b', 'a'])
  t.same(cycleThrough('b', v), ['b', 'a', 'b'])
  t.equal(
    orderBlock('a', v),
    'x-docker-cd.depends_on forms a cycle (a → b → a): none of these stacks is deployed until it is broken',
  )
  t.match(orderBlock('b', v), /forms a cycle \(b → a → b\)/)
})

t.test('a stack that depends on itself', async (t) => {
  const v = view({ a: ['a'] })
  t.same(cycleThrough('a', v), ['a', 'a'])
  t.match(orderBlock('a', v), /forms a cycle \(a → a\)/)
})

t.test('a cycle is found through a longer path, and only on the stacks in it', async (t) => {
  // app → api → db → api: api and db are in the cycle; app only needs it.
  const v = view({ app: ['api'], api: ['db'], db: ['api', 'cache'], cache: [] })
  t.same(cycleThrough('api', v), ['api', 'db', 'api'])
  t.same(cycleThrough('db', v), ['db', 'api', 'db'])
  t.equal(cycleThrough('app', v), undefined, 'app leads into a cycle but is not part of it')
  t.equal(cycleThrough('cache', v), undefined)
  const ring = view({ a: ['b'], b: ['c'], c: ['x', 'a'], x: [] })
  t.same(cycleThrough('a', ring), ['a', 'b', 'c', 'a'], 'the path skips the dead end x')
  t.match(orderBlock('b', ring), /\(b → c → a → b\)/)
})

t.test('a chain: a needs b, b needs c', async (t) => {
  const needs = { a: ['b'], b: ['c'], c: [] }
  const deploying: DependencyState = { kind: 'waiting', why: 'deploying' }
  const notYet: DependencyState = { kind: 'waiting', why: 'queued to deploy' }
  // c deploys first; b waits for it, a waits for b.
  let v = view(needs, { c: deploying, b: notYet })
  t.equal(orderBlock('c', v), undefined)
  t.equal(orderBlock('b', v), 'waiting for c (deploying)')
  t.equal(orderBlock('a', v), 'waiting for b (queued to deploy)')
  t.equal(cycleThrough('a', v), undefined, 'a chain is no cycle')
  // c is synced and healthy: b goes, a still waits for b.
  v = view(needs, { b: deploying })
  t.equal(orderBlock('b', v), undefined)
  t.equal(orderBlock('a', v), 'waiting for b (deploying)')
  v = view(needs)
  t.equal(orderBlock('a', v), undefined, 'all ready: a goes')
})

t.test('a failed dependency holds the stack', async (t) => {
  const v = view(
    { app: ['db'], db: [] },
    { db: { kind: 'failed', why: 'failed to deploy tree abc1234' } },
  )
  t.equal(
    orderBlock('app', v),
    'held: db failed to deploy tree abc1234; deploys once it is synced and healthy (x-docker-cd.depends_on)',
  )
})

t.test('failed takes precedence over waiting; every one is named', async (t) => {
  const v = view(
    { app: ['cache', 'db', 'queue'], cache: [], db: [], queue: [] },
    {
      cache: { kind: 'waiting', why: 'deploying' },
      db: { kind: 'failed', why: 'is failed: exited' },
      queue: { kind: 'failed', why: 'failed to deploy tree 1234567' },
    },
  )
  t.equal(
    orderBlock('app', v),
    'held: db is failed: exited; queue failed to deploy tree 1234567; deploys once they are synced and healthy (x-docker-cd.depends_on)',
  )
  const waiting = view(
    { app: ['cache', 'db'], cache: [], db: [] },
    {
      cache: { kind: 'waiting', why: 'deploying' },
      db: { kind: 'waiting', why: 'synced, progressing' },
    },
  )
  t.equal(orderBlock('app', waiting), 'waiting for cache (deploying), db (synced, progressing)')
})

t.test('an unknown name is reported before a cycle, a cycle before the states', async (t) => {
  const v = view({ a: ['b', 'ghost'], b: ['a'] }, { b: { kind: 'failed', why: 'failed' } })
  t.match(orderBlock('a', v), /"ghost", which is no stack in Git/)
  t.match(orderBlock('b', v), /forms a cycle/, 'b itself names no unknown stack')
})

t.test('readStackSettings: none given', async (t) => {
  for (const raw of [undefined, null]) {
    t.same(
      readStackSettings(raw),
      { dependsOn: [], onFileChange: {}, serviceImageUpdates: {}, problems: [], warnings: [] },
      String(raw),
    )
  }
  t.same(
    readStackSettings({}),
    { dependsOn: [], onFileChange: {}, serviceImageUpdates: {}, problems: [], warnings: [] },
    'an empty mapping',
  )
  t.same(readStackSettings({ depends_on: [] }).dependsOn, [])
  t.same(readStackSettings({ depends_on: null }).problems, [])
})

t.test(
  'readStackSettings: depends_on as a list or one name, sorted, without duplicates',
  async (t) => {
    t.same(readStackSettings({ depends_on: ['db', 'cache'] }), {
      dependsOn: ['cache', 'db'],
      onFileChange: {},
      serviceImageUpdates: {},
      problems: [],
      warnings: [],
    })
    t.same(readStackSettings({ depends_on: 'db' }).dependsOn, ['db'], 'one name alone')
    t.same(readStackSettings({ depends_on: ['db', 'cache', 'db', 'cache'] }).dependsOn, [
      'cache',
      'db',
    ])
  },
)

t.test('readStackSettings: values of the wrong shape are problems', async (t) => {
  for (const raw of ['db', ['db'], 42, true]) {
    const settings = readStackSettings(raw)
    t.same(settings.problems, ['x-docker-cd must be a mapping of settings'], JSON.stringify(raw))
    t.same(settings.dependsOn, [])
  }
  for (const dependsOn of [42, { db: true }, ['db', 7], ['db', ''], [null], '', true]) {
    const settings = readStackSettings({ depends_on: dependsOn })
    t.same(
      settings.problems,
      ['x-docker-cd.depends_on must be a list of stack names (directory names)'],
      JSON.stringify(dependsOn),
    )
    t.same(settings.dependsOn, [], 'nothing half-read')
  }
})

t.test('readStackSettings: unknown keys are warnings, not problems', async (t) => {
  const settings = readStackSettings({ zeta: 1, depends_on: ['db'], image_update: true })
  t.same(settings.dependsOn, ['db'])
  t.same(settings.problems, [])
  t.same(settings.warnings, [
    'x-docker-cd.image_update is not a setting docker-cd knows (ignored); known: depends_on, image_updates, services',
    'x-docker-cd.zeta is not a setting docker-cd knows (ignored); known: depends_on, image_updates, services',
  ])
})
