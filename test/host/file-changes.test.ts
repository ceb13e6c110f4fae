import t from 'tap'
import {
  changedFilesWords,
  fileChangeDone,
  fileChangePending,
  fileChangesOf,
  untrackedReads,
} from '../../services/host/file-changes.js'
import type { ServiceReads } from '../../services/host/service-reads.js'

// Unit tests of what a change of files in Git means for the services that
// read them (file-changes.ts): which services a changed file touches and
// what is done to each (recreate, restart, rebuild), and the words the
// history, the checks and the notes use for it. Compose's hash does not see
// these files, so a wrong match here is a container that keeps serving an
// old file, or one recreated for nothing. Pure: reads and paths in.

const reads = (inside: ServiceReads['inside'], outside: ServiceReads['outside'] = []) => ({
  inside,
  outside,
})

t.test('a changed file is matched to the bind, config, secret and build reads', async (t) => {
  const stack = reads({
    web: [{ path: 'nginx.conf', kind: 'bind' }],
    app: [{ path: 'app.conf', kind: 'config' }],
    vault: [{ path: 's.txt', kind: 'secret' }],
    built: [
      { path: 'ctx', kind: 'build' },
      { path: 'ctx/Dockerfile', kind: 'build' },
    ],
    plain: [],
  })
  t.same(fileChangesOf(stack, ['nginx.conf']), [
    { service: 'web', action: 'recreate', files: ['./nginx.conf'] },
  ])
  t.same(fileChangesOf(stack, ['app.conf']), [
    { service: 'app', action: 'recreate', files: ['./app.conf'] },
  ])
  t.same(fileChangesOf(stack, ['s.txt']), [
    { service: 'vault', action: 'recreate', files: ['./s.txt'] },
  ])
  t.same(
    fileChangesOf(stack, ['ctx/Dockerfile']),
    [{ service: 'built', action: 'rebuild', files: ['./ctx/Dockerfile'] }],
    'covered by both build reads: listed once',
  )
  t.same(fileChangesOf(stack, ['README.md', 'docs/x.md']), [], 'a file nobody reads')
  t.same(
    fileChangesOf(stack, ['nginx.conf', 'README.md', 'app.conf']),
    [
      { service: 'app', action: 'recreate', files: ['./app.conf'] },
      { service: 'web', action: 'recreate', files: ['./nginx.conf'] },
    ],
    'only the files each service reads are its files',
  )
})

t.test('a read of the whole stack directory covers every file', async (t) => {
  const stack = reads({ all: [{ path: '', kind: 'bind' }], other: [{ path: 'x', kind: 'bind' }] })
  t.same(fileChangesOf(stack, ['README.md', 'deep/down/file']), [
    { service: 'all', action: 'recreate', files: ['./README.md', './deep/down/file'] },
  ])
})

t.test('a directory read covers the files below it, not a name it begins', async (t) => {
  const stack = reads({ dir: [{ path: 'conf', kind: 'bind' }] })
  t.same(fileChangesOf(stack, ['conf/a.txt', 'conf/sub/b.txt']), [
    { service: 'dir', action: 'recreate', files: ['./conf/a.txt', './conf/sub/b.txt'] },
  ])
  t.same(fileChangesOf(stack, ['conference.txt']), [], 'conference.txt is not below conf')
  t.same(fileChangesOf(stack, ['confx/a.txt', 'con']), [], 'nor confx/a.txt, nor con')
  t.same(fileChangesOf(stack, ['conf']), [
    { service: 'dir', action: 'recreate', files: ['./conf'] },
  ])
})

t.test(
  'what is done: rebuild for a build context, else on_file_change, else recreate',
  async (t) => {
    const stack = reads({
      proxy: [{ path: 'proxy.conf', kind: 'bind' }],
      web: [{ path: 'web.conf', kind: 'bind' }],
      api: [
        { path: 'api', kind: 'build' },
        { path: 'api.conf', kind: 'bind' },
      ],
    })
    const restart = { proxy: 'restart', api: 'restart' } as const
    t.same(fileChangesOf(stack, ['proxy.conf', 'web.conf'], restart), [
      { service: 'proxy', action: 'restart', files: ['./proxy.conf'] },
      { service: 'web', action: 'recreate', files: ['./web.conf'] },
    ])
    t.same(
      fileChangesOf(stack, ['api.conf', 'api/main.go'], restart),
      [{ service: 'api', action: 'rebuild', files: ['./api.conf', './api/main.go'] }],
      'a build-context file wins over restart: a restart would keep the old image',
    )
    t.same(
      fileChangesOf(stack, ['api.conf'], restart),
      [{ service: 'api', action: 'restart', files: ['./api.conf'] }],
      'only a bind-mounted file of a built service changed: restarted as it asks',
    )
    t.same(
      fileChangesOf(stack, ['proxy.conf'], { proxy: 'recreate' }),
      [{ service: 'proxy', action: 'recreate', files: ['./proxy.conf'] }],
      'recreate named explicitly',
    )
  },
)

t.test('sorted: services by name, each one’s files by path', async (t) => {
  const stack = reads({
    zeta: [{ path: 'z', kind: 'bind' }],
    alpha: [{ path: 'conf', kind: 'bind' }],
    mid: [{ path: 'm.conf', kind: 'config' }],
  })
  t.same(fileChangesOf(stack, ['z/9', 'conf/b', 'm.conf', 'conf/a', 'z/1']), [
    { service: 'alpha', action: 'recreate', files: ['./conf/a', './conf/b'] },
    { service: 'mid', action: 'recreate', files: ['./m.conf'] },
    { service: 'zeta', action: 'recreate', files: ['./z/1', './z/9'] },
  ])
})

t.test('no reads, or nothing changed: no change', async (t) => {
  t.same(fileChangesOf(undefined, ['nginx.conf']), [], 'a model without reads')
  t.same(fileChangesOf(reads({ web: [{ path: 'nginx.conf', kind: 'bind' }] }), []), [])
  t.same(fileChangesOf(reads({}), ['nginx.conf']), [], 'no service')
  t.same(fileChangesOf(reads({ web: [] }), ['nginx.conf']), [], 'a service that reads nothing')
})

t.test('changedFilesWords: at most three files by name', async (t) => {
  t.equal(changedFilesWords([]), 'a file changed')
  t.equal(changedFilesWords(['./a']), './a changed')
  t.equal(changedFilesWords(['./a', './b']), './a and ./b changed')
  t.equal(changedFilesWords(['./a', './b', './c']), './a, ./b and ./c changed')
  t.equal(changedFilesWords(['./a', './b', './c', './d']), './a, ./b, ./c and 1 more file changed')
  t.equal(
    changedFilesWords(['./a', './b', './c', './d', './e']),
    './a, ./b, ./c and 2 more files changed',
  )
})

t.test('fileChangeDone and fileChangePending: the history’s and the check’s words', async (t) => {
  t.equal(
    fileChangeDone({ service: 'app', action: 'recreate', files: ['./conf/app.conf'] }),
    'app recreated: ./conf/app.conf changed',
  )
  t.equal(
    fileChangeDone({ service: 'proxy', action: 'restart', files: ['./a', './b'] }),
    'proxy restarted: ./a and ./b changed',
  )
  t.equal(
    fileChangeDone({ service: 'api', action: 'rebuild', files: ['./api/Dockerfile'] }),
    'api rebuilt and recreated: ./api/Dockerfile changed',
  )
  t.equal(
    fileChangePending({ service: 'web', action: 'recreate', files: ['./nginx.conf'] }),
    'service web would be recreated: ./nginx.conf changed since it was deployed',
  )
  t.equal(
    fileChangePending({ service: 'proxy', action: 'restart', files: ['./a', './b'] }),
    'service proxy would be restarted: ./a and ./b changed since it was deployed',
  )
  t.equal(
    fileChangePending({ service: 'api', action: 'rebuild', files: ['./x'] }),
    'service api would be rebuilt and recreated: ./x changed since it was deployed',
  )
})

t.test('untrackedReads: one note per read outside the stack directory', async (t) => {
  t.same(untrackedReads(undefined), [])
  t.same(untrackedReads(reads({ web: [{ path: 'a', kind: 'bind' }] })), [], 'nothing outside')
  t.same(
    untrackedReads(
      reads({}, [
        { service: 'web', source: '/etc/hostname', kind: 'bind' },
        { service: 'app', source: '/srv/common/app.conf', kind: 'config' },
        { service: 'app', source: '/srv/common/s.txt', kind: 'secret' },
        { service: 'api', source: '/srv/api', kind: 'build' },
      ]),
    ),
    [
      'service web reads /etc/hostname (a bind mount) from outside the stack directory: docker-cd does not track changes to it',
      'service app reads /srv/common/app.conf (a config file) from outside the stack directory: docker-cd does not track changes to it',
      'service app reads /srv/common/s.txt (a secret file) from outside the stack directory: docker-cd does not track changes to it',
      'service api reads /srv/api (a build context or Dockerfile) from outside the stack directory: docker-cd does not track changes to it',
    ],
  )
})
