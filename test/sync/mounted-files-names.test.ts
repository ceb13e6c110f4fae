import t from 'tap'
import { build, configFor, finishedRun, startApp } from '../helpers/build.js'
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

// Compose accepts any service name matching [a-zA-Z0-9._-]+: one that
// starts with a dash (`--help`) or is a property of every JavaScript
// object (`constructor`). A service of either name reading a changed
// mounted file must be renewed like any other: a name is never a flag
// for Compose, nor a key docker-cd finds on (or sets as) Object.prototype.

const unavailable = hostUnavailable()
const API_TOKEN = 'api-token-names-5d2a'
const auth = { authorization: `Bearer ${API_TOKEN}` }

type Run = {
  toTree: string
  result: string
  reason: string
  fileChanges?: { service: string; action: string; files: string[] }[]
}
type Detail = {
  status: string
  treeHash: string
  sync?: { plan?: { service: string; action: string; files?: string[] }[] }
  history?: Run[]
}

const idOf = (container: string) => docker('inspect', '-f', '{{.Id}}', container)
const cat = (container: string, file: string) => docker('exec', container, 'cat', file)

t.test('odd service names on the real engine', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-names' })
  t.teardown(() => server.close())
  const [dash, proto] = ['nd', 'np'].map((prefix) => `${prefix}-${process.pid}`) as [string, string]
  for (const project of [dash, proto]) t.teardown(() => removeProject(project))
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(
      `${dash}/compose.yaml`,
      `services:\n  --help:\n${sleeperService(image, '    volumes:\n      - ./web.conf:/web.conf:ro\n')}`,
    )
    .writeFile(`${dash}/web.conf`, 'v1\n')
    .writeFile(
      `${proto}/compose.yaml`,
      `services:\n  constructor:\n${sleeperService(image, '    volumes:\n      - ./web.conf:/web.conf:ro\n')}  __proto__:\n${sleeperService(image, '    volumes:\n      - ./web.conf:/web.conf:ro\n')}x-docker-cd:\n  services:\n    __proto__:\n      on_file_change: restart\n`,
    )
    .writeFile(`${proto}/web.conf`, 'v1\n')
  repo.commitAndPush('two stacks with odd service names')

  const config = configFor(server, repo.url, {
    SYNC_MODE: 'apply',
    STACKS_DIR: tempDir('docker-cd-stacks-'),
    SYNC_TIMEOUT: '15s',
    API_TOKEN,
  })
  const app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
  const detail = async (name: string) => {
    const response = await app.inject({ url: `/api/stacks/${name}`, headers: auth })
    if (response.statusCode !== 200)
      throw new Error(`the detail of ${name}: ${response.statusCode} ${response.body}`)
    return response.json() as Detail
  }
  const finished = (name: string) => finishedRun(() => detail(name), name)
  await startApp(app)
  for (const stack of [dash, proto])
    t.equal((await finished(stack)).status, 'synced', `${stack} deployed`)
  const before = {
    dash: idOf(`${dash}---help-1`),
    proto: idOf(`${proto}-constructor-1`),
    protoProto: idOf(`${proto}-__proto__-1`),
    protoStarted: docker('inspect', '-f', '{{.State.StartedAt}}', `${proto}-__proto__-1`),
  }

  repo.writeFile(`${dash}/web.conf`, 'v2\n').writeFile(`${proto}/web.conf`, 'v2\n')
  repo.commitAndPush('new mounted files')
  await app.desiredState.refresh('manual').done

  const dashed = await finished(dash)
  t.match(dashed.history?.[0], {
    result: 'completed',
    fileChanges: [{ service: '--help', action: 'recreate', files: ['./web.conf'] }],
  })
  t.not(idOf(`${dash}---help-1`), before.dash, 'the service named --help was recreated')
  t.equal(cat(`${dash}---help-1`, '/web.conf'), 'v2', 'and reads the new file')

  const constructed = await finished(proto)
  t.match(constructed.history?.[0], {
    result: 'completed',
    fileChanges: [
      { service: '__proto__', action: 'restart', files: ['./web.conf'] },
      { service: 'constructor', action: 'recreate', files: ['./web.conf'] },
    ],
    reason: /constructor recreated: \.\/web\.conf changed/,
  })
  t.equal(
    idOf(`${proto}-__proto__-1`),
    before.protoProto,
    'the service named __proto__ was restarted',
  )
  t.not(
    docker('inspect', '-f', '{{.State.StartedAt}}', `${proto}-__proto__-1`),
    before.protoStarted,
  )
  t.equal(cat(`${proto}-__proto__-1`, '/web.conf'), 'v2')
  t.not(idOf(`${proto}-constructor-1`), before.proto, 'the service named constructor was recreated')
  t.equal(cat(`${proto}-constructor-1`, '/web.conf'), 'v2')
})
