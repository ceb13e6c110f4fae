import t from 'tap'
import type { Compose, ComposeModel, PlanEntry } from '../../services/host/compose.js'
import type { EngineContainer } from '../../services/host/docker-engine.js'
import { checkStack, reasonOf, withFileChanges } from '../../services/host/drift.js'
import type { FileChange } from '../../services/host/file-changes.js'

// Unit tests of drift with changed mounted files: Compose's plan does not
// see a changed bind-mounted, config, secret or build-context file, so a
// check adds one plan entry per container of each service that reads one
// (unless Compose replaces that service anyway) and says so in one sentence
// per service. A missing entry is a stack shown `synced` while its
// containers serve old files. Pure, plus checkStack over a scripted Compose
// and engine (the real ones are in drift.test.ts and mounted-files.test.ts).

const container = (name: string, service: string, fields: Partial<EngineContainer> = {}) => ({
  name,
  service,
  state: 'running',
  status: 'Up 2 minutes',
  image: 'x',
  ...fields,
})

const recreate = (service: string, files = ['./nginx.conf']): FileChange => ({
  service,
  action: 'recreate',
  files,
})

t.test('one entry per container of a service whose files changed', async (t) => {
  const containers = [
    container('s-web-1', 'web'),
    container('s-web-2', 'web'),
    container('s-db-1', 'db'),
  ]
  const plan = withFileChanges([], [recreate('web')], containers)
  t.same(plan, [
    { service: 'web', container: 's-web-1', action: 'recreate', files: ['./nginx.conf'] },
    { service: 'web', container: 's-web-2', action: 'recreate', files: ['./nginx.conf'] },
  ])
  t.equal(
    reasonOf(plan, containers),
    'service web would be recreated: ./nginx.conf changed since it was deployed',
    'one sentence for the service, not one per container',
  )
  t.same(withFileChanges([], [recreate('gone')], containers), [], 'a service with no container')
  t.same(withFileChanges([], [], containers), [], 'no change')
})

t.test('not for a service Compose already recreates, creates or removes', async (t) => {
  const containers = [
    container('s-app-1', 'app'),
    container('s-scaled-1', 'scaled'),
    container('s-old-1', 'old'),
    container('s-stopped-1', 'stopped', { state: 'exited', status: 'Exited (0) 3 minutes ago' }),
    container('s-web-1', 'web'),
  ]
  const compose: PlanEntry[] = [
    { service: 'app', container: 's-app-1', action: 'recreate' },
    { service: 'scaled', container: 's-scaled-2', action: 'create' },
    { service: 'old', container: 's-old-1', action: 'remove' },
    { service: 'stopped', container: 's-stopped-1', action: 'start' },
  ]
  const plan = withFileChanges(
    compose,
    [
      recreate('app', ['./app.conf']),
      recreate('old', ['./old.conf']),
      recreate('scaled', ['./s.conf']),
      { service: 'stopped', action: 'restart', files: ['./st.conf'] },
      { service: 'web', action: 'rebuild', files: ['./web/Dockerfile'] },
    ],
    containers,
  )
  t.same(
    plan,
    [
      ...compose,
      { service: 'stopped', container: 's-stopped-1', action: 'restart', files: ['./st.conf'] },
      { service: 'web', container: 's-web-1', action: 'rebuild', files: ['./web/Dockerfile'] },
    ],
    'Compose’s plan first; a service it only starts still gets its file entry',
  )
  t.equal(
    reasonOf(plan, containers),
    [
      'service app would be recreated: its configuration differs from Git',
      'service scaled would be created: it has no container',
      'service old would be removed: Git no longer has this service',
      'service stopped would be started: container s-stopped-1 is exited (0)',
      'service stopped would be restarted: ./st.conf changed since it was deployed',
      'service web would be rebuilt and recreated: ./web/Dockerfile changed since it was deployed',
    ].join('; '),
  )
})

t.test('checkStack: a synced stack whose read files changed is out of sync', async (t) => {
  const model: ComposeModel = {
    format: 2,
    name: 'site',
    services: { web: {}, side: {} },
    settings: { services: { web: { on_file_change: 'restart' } } },
    reads: {
      inside: { web: [{ path: 'nginx.conf', kind: 'bind' }], side: [] },
      outside: [{ service: 'side', source: '/etc/hostname', kind: 'bind' }],
    },
  }
  const containers = [container('site-web-1', 'web'), container('site-side-1', 'side')]
  const check = (changedSinceDeploy?: readonly string[]) =>
    checkStack({
      dir: '/stacks/site',
      compose: { model: async () => model, plan: async () => [] } as unknown as Compose,
      engine: { projectContainers: async () => ({ containers, fingerprint: 'f' }) },
      ...(changedSinceDeploy ? { changedSinceDeploy } : {}),
    })
  const note =
    'service side reads /etc/hostname (a bind mount) from outside the stack directory: docker-cd does not track changes to it'

  const changed = await check(['nginx.conf', 'README.md'])
  t.equal(changed.status, 'out_of_sync')
  t.equal(
    changed.reason,
    'service web would be restarted: ./nginx.conf changed since it was deployed',
  )
  t.same(changed.plan, [
    { service: 'web', container: 'site-web-1', action: 'restart', files: ['./nginx.conf'] },
  ])
  t.same(changed.notes, [note])

  const unread = await check(['README.md'])
  t.equal(unread.status, 'synced', 'a file nobody reads changes nothing')
  t.same(unread.plan, [])
  t.same(unread.notes, [note], 'the note is there either way')

  t.equal((await check()).status, 'synced', 'deployed from this tree')
})
