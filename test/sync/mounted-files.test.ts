import t from 'tap'
import { build, configFor, finishedRun, startApp, waitFor } from '../helpers/build.js'
import {
  docker,
  ensureTestImage,
  hostUnavailable,
  removeProject,
  sleeperService,
} from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 26 on the real engine with Compose v2: "synced" means the
// containers run what Git says, mounted files included. Compose's hash
// does not cover a bind-mounted file, a `configs:` file or a build context,
// and a single-file bind mount keeps the inode it was created with (the
// work tree replaces a changed file by rename): the services reading a
// changed file are recreated (rebuilt for a build context, restarted when
// the stack asks), the others keep their containers; a health failure
// rolls back to the good files; a docs-only change recreates nothing.

const unavailable = hostUnavailable()
const API_TOKEN = 'api-token-mounted-7c1e'
const auth = { authorization: `Bearer ${API_TOKEN}` }

type Run = {
  trigger: string
  toTree: string
  result: string
  reason: string
  servicesChanged: string[]
  fileChanges?: { service: string; action: string; files: string[] }[]
  rolledBackTo?: { treeHash: string }
}
type Detail = {
  status: string
  treeHash: string
  reason?: string
  sync?: {
    reason?: string
    deployedTreeHash?: string
    error?: string
    plan?: { service: string; action: string; files?: string[] }[]
    notes?: string[]
  }
  history?: Run[]
}

const idOf = (container: string) => docker('inspect', '-f', '{{.Id}}', container)
const startedAt = (container: string) => docker('inspect', '-f', '{{.State.StartedAt}}', container)
const cat = (container: string, file: string) => docker('exec', container, 'cat', file)

t.test('mounted files on the real engine', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-mounted' })
  t.teardown(() => server.close())
  const pid = process.pid
  const [bind, configs, built, restart, health] = ['mb', 'mc', 'mx', 'mr', 'mh'].map(
    (prefix) => `${prefix}-${pid}`,
  ) as [string, string, string, string, string]
  for (const project of [bind, configs, built, restart, health])
    t.teardown(() => removeProject(project))
  t.teardown(() => {
    try {
      docker('rmi', '-f', `${built}-built`)
    } catch {}
  })
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    // One single-file bind mount (and one from outside: not tracked), beside a service that mounts nothing.
    .writeFile(
      `${bind}/compose.yaml`,
      `services:\n  web:\n${sleeperService(image, '    volumes:\n      - ./web.conf:/etc/web.conf:ro\n      - /etc/hostname:/outside:ro\n')}  other:\n${sleeperService(image)}`,
    )
    .writeFile(`${bind}/web.conf`, 'web v1\n')
    // A Compose config with a file, and a bind-mounted directory.
    .writeFile(
      `${configs}/compose.yaml`,
      `services:\n  app:\n${sleeperService(image, '    configs:\n      - source: appconf\n        target: /app.conf\n')}  dir:\n${sleeperService(image, '    volumes:\n      - ./conf:/conf:ro\n')}configs:\n  appconf:\n    file: ./app.conf\n`,
    )
    .writeFile(`${configs}/app.conf`, 'app v1\n')
    .writeFile(`${configs}/conf/x.txt`, 'dir v1\n')
    // A tiny local build from the test image, beside a service that is pulled.
    .writeFile(
      `${built}/compose.yaml`,
      `services:\n  built:\n    build: ./ctx\n    image: ${built}-built\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n  plain:\n${sleeperService(image)}`,
    )
    .writeFile(`${built}/ctx/Dockerfile`, `FROM ${image}\nCOPY hello.txt /hello.txt\n`)
    .writeFile(`${built}/ctx/hello.txt`, 'build v1\n')
    // A service that asks to be restarted, not recreated.
    .writeFile(
      `${restart}/compose.yaml`,
      `services:\n  proxy:\n${sleeperService(image, '    volumes:\n      - ./proxy.conf:/proxy.conf:ro\n')}x-docker-cd:\n  services:\n    proxy:\n      on_file_change: restart\n`,
    )
    .writeFile(`${restart}/proxy.conf`, 'proxy v1\n')
    // Healthy only while its mounted file says so.
    .writeFile(
      `${health}/compose.yaml`,
      `services:\n  app:\n${sleeperService(image, '    volumes:\n      - ./app.conf:/app.conf:ro\n    healthcheck:\n      test: ["CMD", "grep", "-q", "good", "/app.conf"]\n      interval: 1s\n      timeout: 1s\n      retries: 2\n      start_period: 0s\n')}`,
    )
    .writeFile(`${health}/app.conf`, 'good\n')
  repo.commitAndPush('five stacks that read files')

  const config = configFor(server, repo.url, {
    SYNC_MODE: 'apply',
    STACKS_DIR: tempDir('docker-cd-stacks-'),
    SYNC_TIMEOUT: '15s',
    API_TOKEN,
  })
  const app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
  const detail = async (name: string) =>
    (await app.inject({ url: `/api/stacks/${name}`, headers: auth })).json() as Detail
  /** The stack's run of its current tree has finished and its status is published. */
  const finished = (name: string) => finishedRun(() => detail(name), name)
  await startApp(app)
  for (const stack of [bind, configs, built, restart, health])
    t.equal((await finished(stack)).status, 'synced', `${stack} deployed`)

  const first = await detail(bind)
  t.match(
    first.sync?.notes,
    [
      /service web reads \/etc\/hostname \(a bind mount\) from outside the stack directory: docker-cd does not track changes to it/,
    ],
    'a mount from outside the stack directory is said once, not tracked',
  )
  const before = {
    web: idOf(`${bind}-web-1`),
    other: idOf(`${bind}-other-1`),
    app: idOf(`${configs}-app-1`),
    dir: idOf(`${configs}-dir-1`),
    built: idOf(`${built}-built-1`),
    plain: idOf(`${built}-plain-1`),
    proxy: idOf(`${restart}-proxy-1`),
    proxyStarted: startedAt(`${restart}-proxy-1`),
    health: idOf(`${health}-app-1`),
  }
  t.equal(cat(`${bind}-web-1`, '/etc/web.conf'), 'web v1')
  t.equal(cat(`${built}-built-1`, '/hello.txt'), 'build v1')

  // One commit changes only files the services read: Compose alone would change nothing.
  repo
    .writeFile(`${bind}/web.conf`, 'web v2\n')
    .writeFile(`${configs}/app.conf`, 'app v2\n')
    .writeFile(`${configs}/conf/x.txt`, 'dir v2\n')
    .writeFile(`${built}/ctx/hello.txt`, 'build v2\n')
    .writeFile(`${restart}/proxy.conf`, 'proxy v2\n')
    .writeFile(`${health}/app.conf`, 'bad\n')
  repo.commitAndPush('new mounted files')
  await app.desiredState.refresh('manual').done

  const web = await finished(bind)
  t.match(web, {
    status: 'synced',
    history: [
      {
        result: 'completed',
        servicesChanged: ['web'],
        fileChanges: [{ service: 'web', action: 'recreate', files: ['./web.conf'] }],
        reason: /web recreated: \.\/web\.conf changed/,
      },
    ],
  })
  t.equal(
    cat(`${bind}-web-1`, '/etc/web.conf'),
    'web v2',
    'the single-file bind mount reads the new file',
  )
  t.not(idOf(`${bind}-web-1`), before.web, 'web was recreated')
  t.equal(
    idOf(`${bind}-other-1`),
    before.other,
    'the service that mounts nothing kept its container',
  )

  const conf = await finished(configs)
  t.match(conf.history?.[0], {
    result: 'completed',
    fileChanges: [
      { service: 'app', action: 'recreate', files: ['./app.conf'] },
      { service: 'dir', action: 'recreate', files: ['./conf/x.txt'] },
    ],
  })
  t.equal(cat(`${configs}-app-1`, '/app.conf'), 'app v2', 'the configs: file is the new one')
  t.not(idOf(`${configs}-app-1`), before.app)
  t.equal(cat(`${configs}-dir-1`, '/conf/x.txt'), 'dir v2')
  t.not(idOf(`${configs}-dir-1`), before.dir, 'a file in a mounted directory recreates its reader')

  const rebuilt = await finished(built)
  t.match(rebuilt.history?.[0], {
    result: 'completed',
    fileChanges: [{ service: 'built', action: 'rebuild', files: ['./ctx/hello.txt'] }],
    reason: /built rebuilt and recreated: \.\/ctx\/hello\.txt changed/,
  })
  t.equal(cat(`${built}-built-1`, '/hello.txt'), 'build v2', 'the image was built again')
  t.not(idOf(`${built}-built-1`), before.built)
  t.equal(
    idOf(`${built}-plain-1`),
    before.plain,
    'the service that builds nothing kept its container',
  )

  const restarted = await finished(restart)
  t.match(restarted.history?.[0], {
    result: 'completed',
    fileChanges: [{ service: 'proxy', action: 'restart', files: ['./proxy.conf'] }],
    reason: /proxy restarted: \.\/proxy\.conf changed/,
  })
  t.equal(idOf(`${restart}-proxy-1`), before.proxy, 'restarted, not recreated: same container')
  t.not(startedAt(`${restart}-proxy-1`), before.proxyStarted, 'its start time moved')
  t.equal(cat(`${restart}-proxy-1`, '/proxy.conf'), 'proxy v2', 'a restart reads the new file')

  const unhealthy = await finished(health)
  t.match(unhealthy, {
    status: 'failed',
    history: [{ result: 'failed', rolledBackTo: { treeHash: String } }],
  })
  t.equal(unhealthy.history?.[0]?.rolledBackTo?.treeHash, unhealthy.sync?.deployedTreeHash)
  t.equal(
    cat(`${health}-app-1`, '/app.conf'),
    'good',
    'the rollback put the good file back in the container',
  )
  t.equal(
    docker('inspect', '-f', '{{.State.Health.Status}}', `${health}-app-1`),
    'healthy',
    'and it is healthy again',
  )

  // A change no service reads (a README): nothing is recreated, the new tree is recorded.
  const ids = { web: idOf(`${bind}-web-1`), other: idOf(`${bind}-other-1`) }
  repo.writeFile(`${bind}/README.md`, '# docs only\n')
  repo.commitAndPush('docs only')
  await app.desiredState.refresh('manual').done
  const docs = await waitFor(
    async () => {
      const d = await detail(bind)
      return d.sync?.deployedTreeHash === d.treeHash && d.status === 'synced' ? d : undefined
    },
    'the docs-only tree recorded as deployed',
    60_000,
  )
  t.equal(docs.history?.[0]?.toTree, web.treeHash, 'no run: the last run is still the file change')
  t.same(
    { web: idOf(`${bind}-web-1`), other: idOf(`${bind}-other-1`) },
    ids,
    'a docs-only change recreates nothing',
  )
})
