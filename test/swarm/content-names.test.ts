import t from 'tap'
import {
  CONTENT_LABEL,
  contentHash,
  contentName,
  nodeLocalMounts,
  objectDifferences,
  oldVersions,
  type StackObject,
  type SwarmService,
  specDifferences,
  stackFile,
  versionOf,
  withContentNames,
} from '../../services/host/index.js'

// Swarm's configs and secrets named by their content (pure parts, without
// an engine): the names in the stack file `docker stack deploy` reads,
// which objects of a stack are old versions once a deploy passed, the
// drift of a service that names another version than Git, and the note
// for a bind mount from the work tree (node-local in Swarm). The real
// swarm runs all of it in swarm-configs.test.ts.

const FILES: Record<string, string> = {
  '/stacks/shop/app.conf': 'level=debug\n',
  '/stacks/shop/token.txt': 's3cret\n',
}
const read = async (file: string) => Buffer.from(FILES[file] ?? '')

/** Compose's rendering of a stack with a file config, a file secret and an external config. */
const rendered = () => ({
  name: 'shop',
  services: {
    web: {
      image: 'web:1',
      configs: [{ source: 'app_conf', target: '/etc/app.conf' }, { source: 'shared' }],
      secrets: [{ source: 'token', target: '/run/secrets/token' }],
    },
    other: { image: 'other:1' },
  },
  configs: {
    app_conf: { name: 'shop_app_conf', file: '/stacks/shop/app.conf', labels: { team: 'a' } },
    shared: { name: 'shared_conf', external: true },
  },
  secrets: { token: { name: 'shop_token', file: '/stacks/shop/token.txt' } },
})

t.test('a file-based config or secret is named by its content', async (t) => {
  const hash = contentHash('level=debug\n')
  t.match(hash, /^[0-9a-f]{8}$/)
  const { rendered: named, named: objects } = await withContentNames('shop', rendered(), read)
  const file = JSON.parse(stackFile(named, '/stacks/shop'))
  t.same(file.configs.app_conf, {
    name: `shop_app_conf_${hash}`,
    file: '/stacks/shop/app.conf',
    labels: { team: 'a', [CONTENT_LABEL]: hash },
  })
  t.same(file.configs.shared, { name: 'shared_conf', external: true }, 'external: left alone')
  t.equal(file.secrets.token.name, `shop_token_${contentHash('s3cret\n')}`)
  t.same(
    file.services.web.configs,
    rendered().services.web.configs,
    'services name the key; the CLI looks its name up',
  )
  t.same(
    objects.map((o) => [o.kind, o.key, o.base]),
    [
      ['config', 'app_conf', 'shop_app_conf'],
      ['secret', 'token', 'shop_token'],
    ],
  )

  const again = await withContentNames('shop', rendered(), read)
  t.same(again.named, objects, 'the same content: the same names (the spec does not change)')
  FILES['/stacks/shop/app.conf'] = 'level=info\n'
  const changed = await withContentNames('shop', rendered(), read)
  t.not(changed.named[0]?.name, objects[0]?.name, 'a changed file: a new name')
  t.equal(changed.named[1]?.name, objects[1]?.name, 'the unchanged secret keeps its name')
  FILES['/stacks/shop/app.conf'] = 'level=debug\n'
})

t.test('names stay within Swarm’s 64 characters, and say their version', async (t) => {
  const long = `${'s'.repeat(40)}_${'k'.repeat(30)}`
  const name = contentName(long, '1a2b3c4d')
  t.equal(name.length, 64)
  t.ok(name.endsWith('_1a2b3c4d'))
  t.equal(versionOf(name, long), '1a2b3c4d')
  t.equal(versionOf('shop_app_conf_1a2b3c4d', 'shop_app_conf'), '1a2b3c4d')
  t.equal(versionOf('shop_app_conf', 'shop_app_conf'), undefined)
  t.equal(versionOf('shop_app_conf_extra_1a2b3c4d', 'shop_app_conf'), undefined)
})

t.test('which objects of a stack are old versions', async (t) => {
  const { named } = await withContentNames('shop', rendered(), read)
  const current = named.map((o) => o.name)
  const object = (kind: 'config' | 'secret', name: string, hash?: string): StackObject => ({
    kind,
    id: `id-${name}`,
    name,
    labels: {
      'com.docker.stack.namespace': 'shop',
      ...(hash ? { [CONTENT_LABEL]: hash } : {}),
    },
  })
  const objects = [
    object('config', current[0] as string, 'x'),
    object('secret', current[1] as string, 'x'),
    object('config', 'shop_app_conf_00000000', '00000000'),
    object('config', 'shop_app_conf'), // deployed before content names
    object('secret', 'shop_token_11111111', '11111111'),
    object('config', 'shop_gone_22222222', '22222222'), // a config Git no longer declares
    object('config', 'shop_by_hand'), // not docker-cd's naming: left alone
    object('secret', 'shop_app_conf_33333333'), // a secret named like a config version: not one
  ]
  t.same(
    oldVersions(objects, named).map((o) => `${o.kind} ${o.name}`),
    [
      'config shop_app_conf_00000000',
      'config shop_app_conf',
      'secret shop_token_11111111',
      'config shop_gone_22222222',
    ],
    'the current versions and objects not named by docker-cd stay',
  )
})

t.test('a service naming another version than Git is drift, in words', async (t) => {
  const { rendered: tree } = await withContentNames('shop', rendered(), read)
  const hash = contentHash('level=debug\n')
  const secret = `shop_token_${contentHash('s3cret\n')}`
  const service = (configs: string[], secrets = [secret]): SwarmService => ({
    id: 's1',
    fullName: 'shop_web',
    name: 'web',
    image: 'web:1',
    replicas: 1,
    env: [],
    labels: {},
    specKey: 'k',
    configs,
    secrets,
  })
  const web = tree.services?.web ?? {}
  t.same(objectDifferences(tree, 'web', web, service([`shop_app_conf_${hash}`, 'shared_conf'])), [])
  t.same(
    objectDifferences(tree, 'web', web, service(['shop_app_conf_abc12345', 'shared_conf'])).map(
      (d) => d.words,
    ),
    [`uses config app_conf version abc12345, Git says ${hash}`],
  )
  t.same(
    objectDifferences(tree, 'web', web, service(['shop_app_conf', 'old_conf'], [])).map(
      (d) => d.words,
    ),
    [
      `uses config app_conf as shop_app_conf, Git says ${hash}`,
      'does not use config shared, Git says it does',
      'uses config old_conf, which Git does not name',
      'does not use secret token, Git says it does',
    ],
  )
  const other = {
    ...service([]),
    id: 's2',
    fullName: 'shop_other',
    name: 'other',
    image: 'other:1',
    secrets: [],
  }
  t.same(
    specDifferences(tree, [service(['shop_app_conf_abc12345', 'shared_conf']), other]).map(
      (d) => `${d.service} ${d.field}`,
    ),
    ['web configs'],
    'only the service naming the config differs',
  )
})

t.test('a bind mount from the work tree is a note: node-local in Swarm', async (t) => {
  const notes = nodeLocalMounts({
    inside: {
      web: [
        { path: 'html', kind: 'bind' },
        { path: 'app.conf', kind: 'config' },
      ],
      other: [],
    },
    outside: [{ service: 'web', source: '/var/run/docker.sock', kind: 'bind' }],
  })
  t.equal(notes.length, 1, 'configs are not bind mounts; outside paths are the node’s own')
  t.match(
    notes[0],
    /^service web bind-mounts \.\/html from the stack's work tree: .*node-local.*use configs:/,
  )
})
