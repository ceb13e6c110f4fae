import t from 'tap'
import { readStackSettings, withServiceNames } from '../../services/host/index.js'

// `x-docker-cd.services.<name>` naming a service the stack does not have is
// a warning (a typo, or a service since removed), never a problem: the
// stack still deploys, and the settings of the services it has still hold.

t.test('a service name the stack does not have is a warning', async (t) => {
  const settings = readStackSettings({
    services: { web: { on_file_change: 'restart' }, wbe: { on_file_change: 'restart' } },
  })
  const checked = withServiceNames(settings, ['web', 'db'])
  t.same(checked.warnings, [
    'x-docker-cd.services.wbe names no service of this stack (ignored); its services: web, db',
  ])
  t.same(checked.problems, [], 'not a problem: the stack deploys')
  t.same(checked.onFileChange, { web: 'restart', wbe: 'restart' }, 'the choices are kept')
})

t.test('every name known: the settings are returned as they are', async (t) => {
  const settings = readStackSettings({ services: { web: { on_file_change: 'recreate' } } })
  t.equal(withServiceNames(settings, ['web']), settings)
  const none = readStackSettings(undefined)
  t.equal(withServiceNames(none, ['web']), none)
})
