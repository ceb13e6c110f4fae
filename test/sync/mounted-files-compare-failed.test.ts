import t from 'tap'
import { GitError } from '../../services/git/index.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
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

// Git could not compare the deployed tree with the new one for a moment (a
// timeout on a loaded host): the check cannot say the host runs the new
// tree — that recorded the tree as deployed without a run, and the
// container read the old file for good. The check is unknown, asked again
// with back-off, and the deploy that follows recreates the reader.

const unavailable = hostUnavailable()
const API_TOKEN = 'api-token-compare-failed-61c9'
const auth = { authorization: `Bearer ${API_TOKEN}` }

type Detail = {
  status: string
  treeHash: string
  reason?: string
  sync?: { deployedTreeHash?: string }
  history?: {
    toTree: string
    result: string
    fileChanges?: { service: string; action: string; files: string[] }[]
  }[]
}

t.test('a comparison that fails for a moment', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-compare-failed' })
  t.teardown(() => server.close())
  const stack = `mf-${process.pid}`
  t.teardown(() => removeProject(stack))
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(
      `${stack}/compose.yaml`,
      `services:\n  web:\n${sleeperService(image, mountsWebConf())}`,
    )
    .writeFile(`${stack}/web.conf`, 'v1\n')
  repo.commitAndPush('a stack that mounts a file')

  const config = configFor(server, repo.url, {
    SYNC_MODE: 'apply',
    STACKS_DIR: tempDir('docker-cd-stacks-'),
    SYNC_TIMEOUT: '15s',
    API_TOKEN,
  })
  const app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
  let failing = false
  let failures = 0
  const changedFiles = app.gitReader.changedFiles
  app.gitReader.changedFiles = async (from, to, signal) => {
    if (failing) {
      failures++
      throw new GitError('timeout', 'git diff-tree took longer than GIT_TIMEOUT')
    }
    return changedFiles(from, to, signal)
  }
  const detail = async () =>
    (await app.inject({ url: `/api/stacks/${stack}`, headers: auth })).json() as Detail
  await startApp(app)
  const first = await waitFor(
    async () => {
      const d = await detail()
      return d.sync?.deployedTreeHash === d.treeHash && d.status === 'synced' ? d : undefined
    },
    'the first tree deployed',
    120_000,
  )
  const id = docker('inspect', '-f', '{{.Id}}', `${stack}-web-1`)

  failing = true
  repo.writeFile(`${stack}/web.conf`, 'v2\n')
  repo.commitAndPush('a new mounted file')
  await app.desiredState.refresh('manual').done
  const unknown = await waitFor(async () => {
    const d = await detail()
    return failures > 0 && d.treeHash !== first.treeHash && d.status !== 'syncing' ? d : undefined
  }, 'a check of the new tree')
  t.not(unknown.sync?.deployedTreeHash, unknown.treeHash, 'not recorded as deployed')
  t.equal(unknown.status, 'unknown')
  t.match(unknown.reason, /cannot compare with the deployed tree/)

  // A manual sync meanwhile: the deploy cannot tell what to renew either, and says so.
  const manual = await app.sync?.requestSync(stack).done
  t.match(manual, { status: 'failed', message: /comparing with the deployed tree failed/ })
  t.equal(docker('inspect', '-f', '{{.Id}}', `${stack}-web-1`), id, 'nothing was changed')
  t.not((await detail()).sync?.deployedTreeHash, unknown.treeHash, 'not recorded as deployed')

  failing = false // Git answers again: the next check, then the deploy
  const second = await waitFor(
    async () => {
      const d = await detail()
      return d.sync?.deployedTreeHash === d.treeHash && d.status === 'synced' ? d : undefined
    },
    'the new tree deployed',
    120_000,
  )
  t.match(second.history?.[0], {
    toTree: second.treeHash,
    result: 'completed',
    fileChanges: [{ service: 'web', action: 'recreate', files: ['./web.conf'] }],
  })
  t.not(docker('inspect', '-f', '{{.Id}}', `${stack}-web-1`), id, 'web was recreated')
  t.equal(docker('exec', `${stack}-web-1`, 'cat', '/web.conf'), 'v2', 'and reads the new file')
})
