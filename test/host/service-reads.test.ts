import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import {
  createCompose,
  MODEL_FORMAT,
  serviceReads,
  servicesReading,
} from '../../services/host/index.js'
import { hostUnavailable } from '../helpers/docker.js'
import { tempDir } from '../helpers/temp-dir.js'

// What each service reads from its stack directory, from Compose's own
// model: bind mounts (short and long syntax), configs and secrets with a
// file, build contexts and Dockerfiles; outside paths listed apart. The
// first test runs the real Compose on a stack directory; the second is the
// pure matching of a changed file to the services that read it.

t.test('read from the real Compose model', { skip: hostUnavailable() ?? false }, async (t) => {
  const root = tempDir('docker-cd-reads-')
  const dir = join(root, 'web')
  mkdirSync(join(dir, 'conf'), { recursive: true })
  mkdirSync(join(dir, 'ctx'), { recursive: true })
  for (const file of ['nginx.conf', 'app.conf', 's.txt', '.env', 'ctx/Dockerfile', 'conf/a'])
    writeFileSync(join(dir, file), 'x\n')
  writeFileSync(
    join(dir, 'compose.yaml'),
    `services:
  web:
    image: x
    volumes:
      - ./nginx.conf:/etc/nginx/nginx.conf:ro
      - ./conf:/conf
      - data:/data
      - /etc/hostname:/h:ro
      - ../common:/common
      - type: bind
        source: ./app.conf
        target: /app.conf
    configs: [app]
    secrets: [s]
    env_file: .env
  built:
    build:
      context: ./ctx
  plain:
    image: x
configs:
  app:
    file: ./app.conf
secrets:
  s:
    file: ./s.txt
volumes:
  data: {}
`,
  )
  const compose = createCompose({})
  t.teardown(() => compose.close())
  const model = await compose.model(dir)
  t.same(model.reads?.inside, {
    built: [
      { path: 'ctx', kind: 'build' },
      { path: 'ctx/Dockerfile', kind: 'build' },
    ],
    plain: [],
    web: [
      { path: 'app.conf', kind: 'bind' },
      { path: 'app.conf', kind: 'config' },
      { path: 'conf', kind: 'bind' },
      { path: 'nginx.conf', kind: 'bind' },
      { path: 's.txt', kind: 'secret' },
    ],
  })
  t.same(model.reads?.outside, [
    { service: 'web', source: '/etc/hostname', kind: 'bind' },
    { service: 'web', source: join(root, 'common'), kind: 'bind' },
  ])
  t.equal(model.format, MODEL_FORMAT, 'remembered in the format that holds the reads')
})

t.test('a changed file and the services that read it', async (t) => {
  const reads = serviceReads(
    {
      services: {
        web: {
          volumes: [
            { type: 'bind', source: '/s/web/nginx.conf' },
            { type: 'bind', source: '/s/web/conf' },
            { type: 'volume', source: 'data' },
          ],
        },
        all: { volumes: [{ type: 'bind', source: '/s/web' }] },
        app: { configs: [{ source: 'c' }] },
        remote: { build: { context: 'https://example.com/repo.git' } },
      },
      configs: { c: { file: '/s/web/app.conf' } },
    },
    '/s/web',
  )
  t.same(servicesReading(reads, 'nginx.conf'), ['all', 'web'])
  t.same(servicesReading(reads, 'conf/deep/a.conf'), ['all', 'web'])
  t.same(
    servicesReading(reads, 'conference.txt'),
    ['all'],
    'a prefix of a name is not its directory',
  )
  t.same(servicesReading(reads, 'app.conf'), ['all', 'app'])
  t.same(
    servicesReading(reads, 'README.md'),
    ['all'],
    'only the service mounting the whole directory',
  )
  t.same(reads.inside.remote, [], 'a remote build context is not a path')
})

t.test('a build reads its additional contexts and its build secrets too', async (t) => {
  // As `docker compose config --format json` renders them (paths made absolute).
  const reads = serviceReads(
    {
      services: {
        app: {
          build: {
            context: '/s/web/ctx',
            dockerfile: 'Dockerfile',
            additional_contexts: {
              shared: '/s/web/shared',
              base: 'docker-image://alpine:3',
              other: 'service:base',
              remote: 'https://example.com/repo.git',
            },
            secrets: [{ source: 'token' }],
          },
        },
      },
      secrets: { token: { file: '/s/web/build-token.txt' } },
    },
    '/s/web',
  )
  t.same(servicesReading(reads, 'shared/lib.txt'), ['app'], 'a file of an additional context')
  t.same(servicesReading(reads, 'build-token.txt'), ['app'], 'a build secret file')
  t.same(
    reads.inside.app?.map((read) => read.path),
    ['build-token.txt', 'ctx', 'ctx/Dockerfile', 'shared'],
    'images, services and URLs are not paths',
  )
  t.ok(
    reads.inside.app?.every((read) => read.kind === 'build'),
    'all rebuild the image',
  )
})
