import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { INTERNAL_DIR } from '../../services/base/index.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// STACKS_DIR on a 2 MiB tmpfs: a commit that does not fit. The stack's
// directory (bind-mounted by its containers) must not be left half new,
// half old; the failure is the stack's status with the reason, tried again
// with back-off, and the stack recovers by itself once there is space.

const isRoot = process.getuid?.() === 0
const sudoWorks = () => spawnSync('sudo', ['-n', 'true']).status === 0
const unavailable =
  hostUnavailable() ?? (isRoot || sudoWorks() ? undefined : 'mounting a tmpfs needs root')
/** A 2 MiB tmpfs for STACKS_DIR, unmounted with the test. */
function smallVolume(t: Test): string {
  const dir = join(tempDir('docker-cd-disk-'), 'stacks')
  mkdirSync(dir)
  asRoot('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir])
  t.teardown(() => asRoot('umount', ['-l', dir]))
  return dir
}

/** mount/umount as root (directly, or through passwordless sudo). */
const asRoot = (command: string, args: string[]) =>
  isRoot ? execFileSync(command, args) : execFileSync('sudo', ['-n', command, ...args])

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

    const stacksDir = smallVolume(t)

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
    asRoot('mount', ['-o', 'remount,size=16m', stacksDir])
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

t.test(
  'SYNC_MODE=apply, a full STACKS_DIR: nothing deployed half, retried, deployed once it fits',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: 'tok-disk-apply-9a' })
    t.teardown(() => server.close())
    const project = `disk-${process.pid}`
    t.teardown(() => removeProject(project))
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(
        `${project}/compose.yaml`,
        `services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    volumes: ["./html:/html:ro"]\n`,
      )
      .writeFile(`${project}/html/index.html`, 'v1\n')
    repo.commitAndPush('first')
    const stacksDir = smallVolume(t)
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'apply',
        STACKS_DIR: stacksDir,
        SYNC_TIMEOUT: '20s',
      }),
      { maxEventLoopDelayMs: 60_000 },
    )
    await startApp(app)
    const detail = async () => (await app.inject(`/api/stacks/${project}`)).json()
    const seen = () => docker('exec', `${project}-app-1`, 'cat', '/html/index.html')
    await waitFor(async () => (await detail()).status === 'synced', 'the first deploy', 60_000)
    t.equal(seen(), 'v1')

    repo
      .writeFile(`${project}/html/index.html`, 'v2\n')
      .writeFile(`${project}/html/video.bin`, randomBytes(3 * 1024 * 1024))
    repo.commitAndPush('too big')
    await app.desiredState.refresh('manual').done
    const stuck = await waitFor(async () => {
      const stack = await detail()
      return /no space left on the volume of STACKS_DIR/.test(stack.sync?.reason ?? '')
        ? stack
        : undefined
    }, 'the stack to say what happened')
    t.not(stuck.status, 'synced', `not synced: ${stuck.status}`)
    t.equal(seen(), 'v1', 'the container sees the old file, whole')
    t.same(readdirSync(join(stacksDir, project, 'html')), ['index.html'])

    asRoot('mount', ['-o', 'remount,size=16m', stacksDir])
    const revision = app.desiredState.current().revision
    await waitFor(
      async () => {
        const stack = await detail()
        return stack.status === 'synced' && stack.sync.deployedRevision === revision
      },
      'deployed by itself once it fits',
      60_000,
    )
    t.equal(seen(), 'v2', 'the container sees the new file')
  },
)
