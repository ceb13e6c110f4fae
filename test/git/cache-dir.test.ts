import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { pausedDownload, readTarGz } from '../helpers/archive.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { serviceEnv, startService } from '../helpers/service.js'
import { tempDir } from '../helpers/temp-dir.js'

// The cache dir on a bad day and over time: the mirror stays near the size
// of what it serves, a full disk is reported as such (and the mirror kept),
// a read-only cache dir is named as one. Full and read-only file systems are
// real tmpfs mounts (as root, as CI runs, or through passwordless sudo).

const server = await startGitServer({ token: 'tok-cache-dir-48b' })
t.teardown(() => server.close())

/** Total bytes of the files below a directory. */
function diskUse(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  }
  return total
}

/** Runs a command as root: directly when root (CI), else through `sudo -n`. */
const asRoot = (command: string, args: string[]) =>
  process.getuid?.() === 0
    ? execFileSync(command, args)
    : execFileSync('sudo', ['-n', command, ...args])

/** A tmpfs of `size` mounted at a fresh directory for this test. */
function mountTmpfs(t: Test, size: string, readOnly = false): string {
  const dir = tempDir('docker-cd-mount-')
  asRoot('mount', [
    '-t',
    'tmpfs',
    '-o',
    `size=${size},mode=1777${readOnly ? ',ro' : ''}`,
    'tmpfs',
    dir,
  ])
  t.teardown(() => asRoot('umount', ['--lazy', dir]))
  return dir
}

t.test('the mirror stays small: 30 commits of 100 KB each, pruned as it goes', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 1 })
  repo
    .writeFile('stack-00000/stable.bin', randomBytes(300 * 1024))
    .writeFile('stack-00000/data.bin', randomBytes(100 * 1024))
    .commitAndPush()
  const config = configFor(server, repo.url)
  const app = await build(t, config)
  await startApp(app)
  const afterFirst = diskUse(config.gitCacheDir)

  const pruned: number[] = []
  let largest = afterFirst
  for (let i = 0; i < 30; i++) {
    repo.writeFile('stack-00000/data.bin', randomBytes(100 * 1024)).commitAndPush()
    const outcome = await app.desiredState.refresh('manual').done
    t.equal(outcome.status, 'completed')
    if (outcome.steps.includes('prune-mirror')) pruned.push(i)
    largest = Math.max(largest, diskUse(config.gitCacheDir))
  }
  const last = diskUse(config.gitCacheDir)
  t.comment(
    `cache dir: ${afterFirst} B after the first refresh, ${last} B after 30 commits, at most ${largest} B`,
  )
  t.ok(pruned.length >= 3, `pruned ${pruned.length} times`)
  t.ok(pruned.length <= 10, 'once a few changes have piled up, not after every refresh')
  t.ok(largest <= 4 * afterFirst, 'never more than 4× its size after the first refresh')
  const archive = await app.inject('/api/stacks/stack-00000/archive')
  t.equal(archive.statusCode, 200, 'the current snapshot is intact')
})

t.test('no pruning under a download in progress; it resumes once the download ends', async (t) => {
  const repo = createFixtureRepo(server, { stacks: 1 })
  const big = randomBytes(8 * 1024 * 1024)
  repo.writeFile('stack-00000/data.bin', big).commitAndPush()
  const config = configFor(server, repo.url)
  const app = await build(t, config)
  await startApp(app)
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const download = await pausedDownload(`${base}/api/stacks/stack-00000/archive`)

  // Enough change to call for a prune; two refreshes later the snapshot
  // being downloaded is not even the previous one.
  for (let i = 0; i < 3; i++) {
    repo.writeFile('stack-00000/data.bin', randomBytes(8 * 1024 * 1024)).commitAndPush()
    const outcome = await app.desiredState.refresh('manual').done
    t.notOk(
      outcome.steps.includes('prune-mirror'),
      `refresh ${i + 1}: no prune during the download`,
    )
  }
  const bytes = await download.finish()
  const entries = await readTarGz(bytes)
  t.ok(
    Buffer.from(entries.find((e) => e.name === 'data.bin')?.content ?? '', 'latin1').length > 0,
    'the download finished',
  )
  t.equal(entries.length, 2, 'whole: compose.yaml and data.bin')

  // The server notices the download's end a moment after the client: the
  // prune comes at one of the next refreshes, with no warning on the way.
  const warnings: string[] = []
  await waitFor(async () => {
    repo.writeFile('stack-00000/data.bin', randomBytes(1024)).commitAndPush()
    const after = await app.desiredState.refresh('manual').done
    warnings.push(...after.warnings)
    return after.steps.includes('prune-mirror')
  }, 'a prune once the download is over')
  t.same(warnings, [], 'no maintenance failure')
})

t.test(
  'a full disk: disk_full, the last good state and the mirror kept, recovery without a rebuild',
  async (t) => {
    const mount = mountTmpfs(t, '4m')
    const repo = createFixtureRepo(server, { stacks: 2 })
    const cacheDir = join(mount, 'cache')
    const app = await build(t, configFor(server, repo.url, { GIT_CACHE_DIR: cacheDir }))
    const first = await startApp(app)
    const mirror = readdirSync(cacheDir).find((name) => name.endsWith('.git')) as string
    t.ok(mirror, 'the mirror exists')

    // Fill the file system to the last block.
    const filler = join(mount, 'filler')
    const chunk = Buffer.alloc(64 * 1024, 1)
    for (let i = 0; ; i++) {
      try {
        writeFileSync(filler, chunk, { flag: 'a' })
      } catch {
        break
      }
      if (i > 1000) throw new Error('the tmpfs never filled up')
    }
    repo.writeFile('stack-00001/data.bin', randomBytes(512 * 1024)).writeStack('new-stack')
    const head = repo.commitAndPush('more than fits')
    const failed = await app.desiredState.refresh('manual').done
    t.equal(failed.status, 'failed')
    t.equal(failed.error?.reason, 'disk_full', failed.message)
    t.match(failed.message, /GIT_CACHE_DIR/, 'the message says where space is missing')
    t.equal(app.desiredState.current().revision, first.revision, 'the last good state is kept')
    t.ok(existsSync(join(cacheDir, mirror, 'docker-cd-url')), 'the mirror was not deleted')

    await rm(filler)
    const recovered = await app.desiredState.refresh('manual').done
    t.match(recovered, { status: 'completed', revision: head })
    t.notOk(recovered.steps.includes('rebuild-mirror'), 'recovered from the same mirror')
    t.ok(app.desiredState.current().stacks.some((s) => s.path === 'new-stack'))
  },
)

t.test('a read-only cache dir is named as one, at startup and in a refresh', async (t) => {
  const readOnly = mountTmpfs(t, '1m', true)
  const repo = createFixtureRepo(server, { stacks: 1 })

  const service = startService(
    t,
    await serviceEnv(server, repo.url, { GIT_CACHE_DIR: join(readOnly, 'cache') }),
  )
  t.equal(await service.exited, 1)
  t.match(
    service.output.stderr,
    /GIT_CACHE_DIR \S+ cannot be created: read-only file system: mount a writable volume there \(EROFS\)/,
  )

  const app = await build(
    t,
    configFor(server, repo.url, { GIT_CACHE_DIR: join(readOnly, 'cache') }),
  )
  await app.ready()
  const outcome = await app.desiredState.start()
  t.equal(outcome.error?.reason, 'cache_unwritable', outcome.message)
  t.match(outcome.message, /EROFS/)
})

t.test('a cache dir that is a file', async (t) => {
  const file = join(tempDir('docker-cd-notdir-'), 'cache')
  writeFileSync(file, 'x')
  mkdirSync(`${file}-sibling`)
  const repo = createFixtureRepo(server, { stacks: 1 })
  const service = startService(
    t,
    await serviceEnv(server, repo.url, { GIT_CACHE_DIR: join(file, 'sub') }),
  )
  t.equal(await service.exited, 1)
  t.match(service.output.stderr, /GIT_CACHE_DIR \S+ cannot be created: .*\(ENOTDIR\)/)
})
