import { symlinkSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build, configFor, finishedRun, startApp, waitFor } from '../helpers/build.js'
import {
  docker,
  ensureTestImage,
  hostUnavailable,
  mountsWebConf,
  removeProject,
  sleeperService,
} from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// STACKS_DIR reached through a symlink (a data disk linked into place,
// /tmp on macOS): Compose runs in the work tree and resolves its relative
// paths against the directory's real path, so the model names
// /real/stacks/<stack>/web.conf. That is still inside the stack directory:
// the file is tracked (no "outside" note) and a change to it recreates the
// service that mounts it.

const unavailable = hostUnavailable()
const API_TOKEN = 'api-token-symlinked-91b4'
const auth = { authorization: `Bearer ${API_TOKEN}` }

type Detail = {
  status: string
  treeHash: string
  sync?: { notes?: string[]; deployedTreeHash?: string }
  history?: {
    toTree: string
    result: string
    fileChanges?: { service: string; action: string; files: string[] }[]
  }[]
}

t.test('a symlinked STACKS_DIR on the real engine', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-symlinked' })
  t.teardown(() => server.close())
  const stack = `ms-${process.pid}`
  t.teardown(() => removeProject(stack))
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(
      `${stack}/compose.yaml`,
      `services:\n  web:\n${sleeperService(image, mountsWebConf())}`,
    )
    .writeFile(`${stack}/web.conf`, 'v1\n')
  repo.commitAndPush('a stack that mounts a file')

  const stacksDir = join(tempDir('docker-cd-link-'), 'stacks')
  symlinkSync(tempDir('docker-cd-stacks-'), stacksDir)
  const config = configFor(server, repo.url, {
    SYNC_MODE: 'apply',
    STACKS_DIR: stacksDir,
    SYNC_TIMEOUT: '15s',
    API_TOKEN,
  })
  const app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
  const detail = async () =>
    (await app.inject({ url: `/api/stacks/${stack}`, headers: auth })).json() as Detail
  const finished = () => finishedRun(detail, stack)
  await startApp(app)
  const first = await finished()
  t.equal(first.status, 'synced')
  t.same(first.sync?.notes, undefined, 'the mounted file is inside the stack directory')
  const id = docker('inspect', '-f', '{{.Id}}', `${stack}-web-1`)

  repo.writeFile(`${stack}/web.conf`, 'v2\n')
  repo.commitAndPush('a new mounted file')
  await app.desiredState.refresh('manual').done
  // Deployed: by a run, or recorded without one when the check saw nothing to do.
  const second = await waitFor(
    async () => {
      const d = await detail()
      return d.sync?.deployedTreeHash === d.treeHash && d.status === 'synced' ? d : undefined
    },
    'the new tree deployed',
    120_000,
  )
  t.equal(second.history?.[0]?.toTree, second.treeHash, 'a run deployed the new tree')
  t.match(second.history?.[0], {
    result: 'completed',
    fileChanges: [{ service: 'web', action: 'recreate', files: ['./web.conf'] }],
  })
  t.not(docker('inspect', '-f', '{{.Id}}', `${stack}-web-1`), id, 'web was recreated')
  t.equal(docker('exec', `${stack}-web-1`, 'cat', '/web.conf'), 'v2', 'and reads the new file')
})
