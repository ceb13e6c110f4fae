import t from 'tap'
import { readStackSettings } from '../../services/host/stack-settings.js'

// Unit tests of the `services` key of a stack's `x-docker-cd` settings
// (`services: { <name>: { on_file_change: recreate|restart } }`): what a
// service gets when a file it mounts changes in Git. A value of the wrong
// shape is a problem (the stack is not deployed, with the reason, which
// must name the key); a per-service key docker-cd does not know is only a
// warning. `depends_on` has its own tests in test/sync/order.test.ts.

const SHAPE = 'x-docker-cd.services must be a mapping of service names to settings'
const ACTION_PROBLEM =
  /^x-docker-cd\.services\.web\.on_file_change must be one of recreate, restart /

t.test('on_file_change per service', async (t) => {
  t.same(readStackSettings({ services: { web: { on_file_change: 'restart' } } }), {
    dependsOn: [],
    onFileChange: { web: 'restart' },
    serviceImageUpdates: {},
    problems: [],
    warnings: [],
  })
  t.same(
    readStackSettings({
      depends_on: ['db'],
      services: { web: { on_file_change: 'restart' }, app: { on_file_change: 'recreate' } },
    }),
    {
      dependsOn: ['db'],
      onFileChange: { web: 'restart', app: 'recreate' },
      serviceImageUpdates: {},
      problems: [],
      warnings: [],
    },
    'beside depends_on',
  )
  for (const services of [null, {}, { web: {} }, { web: { on_file_change: null } }]) {
    const settings = readStackSettings({ services })
    t.same(settings.onFileChange, {}, `nothing chosen: ${JSON.stringify(services)}`)
    t.same(settings.problems, [], `and no problem: ${JSON.stringify(services)}`)
    t.same(settings.warnings, [], `nor a warning: ${JSON.stringify(services)}`)
  }
})

t.test('services of the wrong shape are a problem', async (t) => {
  for (const services of ['web', ['web'], 42, true]) {
    const settings = readStackSettings({ services })
    t.same(settings.problems, [SHAPE], JSON.stringify(services))
    t.same(settings.onFileChange, {})
  }
})

t.test('a service whose value is not a mapping is a problem naming it', async (t) => {
  for (const value of ['restart', ['restart'], 3, true]) {
    const settings = readStackSettings({ services: { web: value } })
    t.same(
      settings.problems,
      ['x-docker-cd.services.web must be a mapping of settings'],
      JSON.stringify(value),
    )
    t.same(settings.onFileChange, {})
  }
  const mixed = readStackSettings({
    services: { web: 'restart', proxy: { on_file_change: 'restart' } },
  })
  t.same(mixed.problems, ['x-docker-cd.services.web must be a mapping of settings'])
  t.same(mixed.onFileChange, { proxy: 'restart' }, 'the other service is still read')
})

t.test('an action docker-cd does not offer is a problem naming the key', async (t) => {
  for (const action of ['signal', 'SIGHUP', 'Restart', 'rebuild', 1, true, ['restart']]) {
    const settings = readStackSettings({ services: { web: { on_file_change: action } } })
    t.equal(settings.problems.length, 1, JSON.stringify(action))
    t.match(settings.problems[0], ACTION_PROBLEM, JSON.stringify(action))
    t.same(settings.onFileChange, {}, `${JSON.stringify(action)} is not taken`)
  }
  t.match(
    readStackSettings({ services: { web: { on_file_change: 'SIGHUP' } } }).problems[0],
    /a signal is not offered/,
    'and says why there is no signal',
  )
})

t.test('a per-service key docker-cd does not know is a warning, not a problem', async (t) => {
  const settings = readStackSettings({
    services: { web: { on_file_chnage: 'restart' }, app: { on_file_change: 'restart', x: 1 } },
  })
  t.same(settings.problems, [])
  t.same(settings.warnings, [
    'x-docker-cd.services.web.on_file_chnage is not a setting docker-cd knows (ignored); known: image_updates, on_file_change',
    'x-docker-cd.services.app.x is not a setting docker-cd knows (ignored); known: image_updates, on_file_change',
  ])
  t.same(settings.onFileChange, { app: 'restart' }, 'the known key beside it is read')
  t.same(
    readStackSettings({ servicez: {} }).warnings,
    [
      'x-docker-cd.servicez is not a setting docker-cd knows (ignored); known: depends_on, image_updates, services',
    ],
    'services is a known top-level key',
  )
})

t.test('image_updates for the stack and per service', async (t) => {
  const settings = readStackSettings({
    image_updates: 'detect',
    services: {
      db: { image_updates: 'off' },
      web: { image_updates: 'detect', on_file_change: 'restart' },
    },
  })
  t.equal(settings.imageUpdates, 'detect')
  t.same({ ...settings.serviceImageUpdates }, { db: 'off', web: 'detect' })
  t.same({ ...settings.onFileChange }, { web: 'restart' })
  t.same(settings.problems, [])
  t.notOk('imageUpdates' in readStackSettings({}), 'none given: IMAGE_UPDATES decides')
  t.same(
    readStackSettings({ image_updates: 'always', services: { web: { image_updates: true } } })
      .problems,
    [
      'x-docker-cd.services.web.image_updates must be one of off, detect, apply',
      'x-docker-cd.image_updates must be one of off, detect, apply',
    ],
  )
  const apply = readStackSettings({
    image_updates: 'apply',
    services: { db: { image_updates: 'detect' } },
  })
  t.equal(apply.imageUpdates, 'apply')
  t.same({ ...apply.serviceImageUpdates }, { db: 'detect' })
})
