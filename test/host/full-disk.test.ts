import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { INTERNAL_DIR } from '../../services/base/index.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// STACKS_DIR on a 2 MiB tmpfs: a commit that does not fit. The stack's
// directory (bind-mounted by its containers) must not be left half new,
// half old; the failure is the stack's status with the reason, tried again
// with back-off, and the stack recovers by itself once there is space.

const unavailable =
  hostUnavailable() ?? (process.getuid?.() === 0 ? undefined : 'mounting a tmpfs needs root')

t.test(
  'a full STACKS_DIR: the stack says so, its files stay whole, it recovers by itself',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: 'tok-disk-9a' })
    t.teardown(() => server.close())
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(
        'web/compose.yaml',
        `services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    volumes: ["./html:/html:ro"]\n`,
      )
      .writeFile('web/html/index.html', 'v1\n')
      .writeFile('web/html/style.css', 'v1\n')
    repo.commitAndPush('first')

    const stacksDir = join(tempDir('docker-cd-disk-'), 'stacks')
    mkdirSync(stacksDir)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', stacksDir])
    t.teardown(() => execFileSync('umount', ['-l', stacksDir]))

    const app = await build(
      t,
      configFor(server, repo.url, { SYNC_MODE: 'detect', STACKS_DIR: stacksDir }),
      { maxEventLoopDelayMs: 60_000 },
    )
    await startApp(app)
    const detail = async () => (await app.inject('/api/stacks/web')).json()
    await waitFor(async () => (await detail()).status === 'missing', 'the first check')
    const html = join(stacksDir, 'web', 'html')

    // Two changed small files and a 3 MiB one that cannot fit.
    repo
      .writeFile('web/html/index.html', 'v2\n')
      .writeFile('web/html/style.css', 'v2\n')
      .writeFile('web/html/video.bin', randomBytes(3 * 1024 * 1024))
    repo.commitAndPush('too big')
    await app.desiredState.refresh('manual').done
    const failed = await waitFor(async () => {
      const stack = await detail()
      return stack.status === 'unknown' ? stack : undefined
    }, 'the stack to say what happened')
    t.match(failed.sync.reason, /no space left on the volume of STACKS_DIR/)
    t.match(failed.sync.reason, /its files are unchanged/)
    t.same(readdirSync(html).sort(), ['index.html', 'style.css'], 'nothing half-written')
    t.equal(readFileSync(join(html, 'index.html'), 'utf8'), 'v1\n', 'the old files, all of them')
    t.equal(readFileSync(join(html, 'style.css'), 'utf8'), 'v1\n')
    const staging = join(stacksDir, INTERNAL_DIR, 'staging')
    t.same(existsSync(staging) ? readdirSync(staging) : [], [], 'the staging area is emptied')

    // Space comes back: the back-off's next try writes the tree, no refresh needed.
    execFileSync('mount', ['-o', 'remount,size=16m', stacksDir])
    await waitFor(
      async () => (await detail()).status === 'missing',
      'the stack to recover by itself',
      60_000,
    )
    t.equal(readFileSync(join(html, 'index.html'), 'utf8'), 'v2\n', 'the new tree, whole')
    t.equal(readFileSync(join(html, 'style.css'), 'utf8'), 'v2\n')
    t.equal(readFileSync(join(html, 'video.bin')).length, 3 * 1024 * 1024)
  },
)
