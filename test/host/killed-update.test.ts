import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { INTERNAL_DIR } from '../../services/base/index.js'
import { waitFor } from '../helpers/build.js'
import { hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { isReady, serviceEnv, startService } from '../helpers/service.js'
import { tempDir } from '../helpers/temp-dir.js'

// The built service is SIGKILLed while it writes a large change into a
// stack's directory (a bind-mounted one, for its containers): the directory
// holds the old tree, whole, with no stray file beside it; the next start
// empties the staging area and writes the new tree.

const unavailable = hostUnavailable()
const BIG = 96 * 1024 * 1024

t.test(
  'a kill during a work-tree update leaves the old files whole and nothing stray',
  { skip: unavailable ?? false },
  async (t) => {
    const server = await startGitServer({ token: 'tok-kill-6b' })
    t.teardown(() => server.close())
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile('web/compose.yaml', 'services:\n  app:\n    image: none:1\n')
      .writeFile('web/html/index.html', 'v1\n')
      .commitAndPush('first')
    const stacksDir = tempDir('docker-cd-stacks-')
    const env = await serviceEnv(server, repo.url, { SYNC_MODE: 'detect', STACKS_DIR: stacksDir })
    const base = `http://127.0.0.1:${env.PORT}`
    const html = join(stacksDir, 'web', 'html')
    const staging = join(stacksDir, INTERNAL_DIR, 'staging')

    const first = startService(t, env)
    await waitFor(() => isReady(base), 'the first start', 60_000)
    await waitFor(() => existsSync(join(html, 'index.html')), 'the first tree written')

    repo
      .writeFile('web/html/index.html', 'v2\n')
      .writeFile('web/html/video.bin', randomBytes(BIG))
      .commitAndPush('a large file')
    await fetch(`${base}/api/refresh`, { method: 'POST' })
    // Wait until the update is under way (part of the large file written
    // somewhere under STACKS_DIR), then kill.
    const partial = () =>
      (readdirSync(stacksDir, { recursive: true }) as string[]).some((path) => {
        const info = statSync(join(stacksDir, path), { throwIfNoEntry: false })
        return info?.isFile() && info.size > 64 * 1024 && info.size < BIG
      })
    await waitFor(partial, 'the update to be under way', 60_000)
    first.child.kill('SIGKILL')
    await first.exited
    t.same(readdirSync(html), ['index.html'], 'no stray file in the mounted directory')
    t.equal(readFileSync(join(html, 'index.html'), 'utf8'), 'v1\n', 'the old tree, whole')

    startService(t, env)
    await waitFor(() => isReady(base), 'the restart', 60_000)
    await waitFor(
      () => existsSync(join(html, 'video.bin')) && statSync(join(html, 'video.bin')).size === BIG,
      'the new tree written after the restart',
      60_000,
    )
    t.equal(readFileSync(join(html, 'index.html'), 'utf8'), 'v2\n')
    t.same(readdirSync(html).sort(), ['index.html', 'video.bin'])
    await waitFor(
      () => !existsSync(staging) || readdirSync(staging).length === 0,
      'the staging area emptied',
    )
  },
)
