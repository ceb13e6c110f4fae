import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// The mirror is rebuilt (it was lost or reported broken): it is fetched
// shallowly, so the tree the stack was deployed from is no longer in it.
// docker-cd cannot tell which files changed since: every file the services
// read counts as changed (a check says the stack is out of sync, a deploy
// recreates them), rather than recording the new tree as deployed while
// the containers still read the old files. Asking Git about the absent
// tree does not mark the mirror broken either (that rebuilt it on every
// refresh, without ever getting the tree back).

const unavailable = hostUnavailable()
const API_TOKEN = 'api-token-lost-tree-3f0d'
const auth = { authorization: `Bearer ${API_TOKEN}` }

type Detail = {
  status: string
  treeHash: string
  sync?: {
    deployedTreeHash?: string
    plan?: { service: string; action: string; files?: string[] }[]
  }
  history?: {
    toTree: string
    result: string
    fileChanges?: { service: string; action: string; files: string[] }[]
  }[]
}

t.test('a deployed tree the mirror lost', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-lost-tree' })
  t.teardown(() => server.close())
  const stack = `ml-${process.pid}`
  t.teardown(() => removeProject(stack))
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo
    .writeFile(
      `${stack}/compose.yaml`,
      `services:\n  web:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    volumes:\n      - ./web.conf:/web.conf:ro\n  other:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n`,
    )
    .writeFile(`${stack}/web.conf`, 'v1\n')
  repo.commitAndPush('a stack that mounts a file')

  const env = {
    GIT_CACHE_DIR: tempDir('docker-cd-cache-'),
    STACKS_DIR: tempDir('docker-cd-stacks-'),
    SYNC_TIMEOUT: '15s',
    API_TOKEN,
  }
  const started = async (mode: 'apply' | 'detect') => {
    const app = await build(t, configFor(server, repo.url, { ...env, SYNC_MODE: mode }), {
      maxEventLoopDelayMs: 60_000,
    })
    await startApp(app)
    const detail = async () =>
      (await app.inject({ url: `/api/stacks/${stack}`, headers: auth })).json() as Detail
    return { app, detail }
  }

  const first = await started('apply')
  const deployed = await waitFor(
    async () => {
      const d = await first.detail()
      return d.sync?.deployedTreeHash === d.treeHash && d.status === 'synced' ? d : undefined
    },
    'the first tree deployed',
    120_000,
  )
  t.ok(deployed.sync?.deployedTreeHash)
  const ids = {
    web: docker('inspect', '-f', '{{.Id}}', `${stack}-web-1`),
    other: docker('inspect', '-f', '{{.Id}}', `${stack}-other-1`),
  }
  await first.app.close()

  // The mirror goes (a new disk, a broken mirror rebuilt); the deploy records stay.
  const mirrors = readdirSync(env.GIT_CACHE_DIR).filter((name) => name.endsWith('.git'))
  t.equal(mirrors.length, 1, 'one mirror in the cache dir')
  const mirror = join(env.GIT_CACHE_DIR, mirrors[0] as string)
  rmSync(mirror, { recursive: true, force: true })
  repo.writeFile(`${stack}/web.conf`, 'v2\n')
  repo.commitAndPush('a new mounted file')

  // Detect mode: the check says what a deploy would do, and the mirror stays.
  const detect = await started('detect')
  const checked = await waitFor(
    async () => {
      const d = await detect.detail()
      return d.treeHash !== deployed.treeHash && d.sync?.plan && d.status !== 'unknown'
        ? d
        : undefined
    },
    'a check of the new tree',
    60_000,
  )
  t.match(checked, {
    status: 'out_of_sync',
    sync: { plan: [{ service: 'web', action: 'recreate', files: ['./web.conf'] }] },
  })
  // A rebuilt mirror starts from an empty directory: this file would go.
  const sentinel = join(mirror, 'sentinel-of-this-test')
  writeFileSync(sentinel, '')
  repo.writeFile('README.md', '# elsewhere in the repository\n')
  repo.commitAndPush('another commit')
  await detect.app.desiredState.refresh('manual').done
  repo.writeFile('README.md', '# and again\n')
  repo.commitAndPush('one more commit')
  await detect.app.desiredState.refresh('manual').done
  t.ok(existsSync(sentinel), 'the mirror is not rebuilt by asking about a tree it lacks')
  await detect.app.close()

  // Apply mode: the deploy recreates what reads files, and only that.
  const apply = await started('apply')
  const second = await waitFor(
    async () => {
      const d = await apply.detail()
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
  t.not(docker('inspect', '-f', '{{.Id}}', `${stack}-web-1`), ids.web, 'web was recreated')
  t.equal(docker('exec', `${stack}-web-1`, 'cat', '/web.conf'), 'v2', 'and reads the new file')
  t.equal(
    docker('inspect', '-f', '{{.Id}}', `${stack}-other-1`),
    ids.other,
    'the service that reads no file kept its container',
  )
})
