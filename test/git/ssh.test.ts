import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t, { type Test } from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { commandLinesContaining, startGitServer } from '../helpers/git-server.js'
import { serviceEnv, startService } from '../helpers/service.js'
import { startSshServer } from '../helpers/ssh-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Git over ssh against a real OpenSSH server on loopback: a deploy key
// mounted with loose permissions, strict host-key checking, the failure
// categories, a hang, and the key's content kept out of every command
// line, log, response and the cache dir.

const git = await startGitServer({ token: 'tok-ssh-unused-9a' })
t.teardown(() => git.close())
const sshd = await startSshServer()
t.teardown(() => sshd.close())

/** The deploy key as a Compose secret arrives: readable by all, owned by whoever. */
function mountedKey(source = sshd.keyFile): string {
  const file = join(tempDir('docker-cd-secret-'), 'deploy_key')
  copyFileSync(source, file)
  chmodSync(file, 0o644)
  return file
}

const keyBody = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('-----'))

function sshEnv(repoUrl: string, env: Record<string, string> = {}) {
  return {
    GIT_REPO_URL: repoUrl,
    GIT_REVISION: 'main',
    GIT_ACCESS_TOKEN: '',
    GIT_SSL_CAINFO: '',
    GIT_SSH_KEY_FILE: mountedKey(),
    GIT_SSH_KNOWN_HOSTS_FILE: sshd.knownHostsFile,
    ...env,
  }
}

async function sshApp(t: Test, repoUrl: string, env: Record<string, string> = {}) {
  const config = configFor(git, repoUrl, sshEnv(repoUrl, env))
  const app = await build(t, config)
  return { app, config }
}

t.test(
  'stacks are read over ssh with a deploy key mounted 0644; the key never leaks',
  async (t) => {
    const repo = createFixtureRepo(git, { stacks: 2 })
    const { app, config } = await sshApp(t, sshd.url(repo.bareDir))
    const body = keyBody(sshd.keyFile)

    // Every process's command line, sampled while git and ssh run.
    const seen: string[] = []
    const sampler = setInterval(() => seen.push(...commandLinesContaining(body)), 2)
    const sshSeen: string[] = []
    const sshSampler = setInterval(
      () => sshSeen.push(...commandLinesContaining(['-o BatchMode=yes', 'BatchMode=yes'])),
      2,
    )
    t.teardown(() => {
      clearInterval(sampler)
      clearInterval(sshSampler)
    })
    const outcome = await startApp(app)
    t.equal(outcome.status, 'completed', outcome.message)
    t.same(
      app.desiredState.current().stacks.map((s) => s.path),
      ['stack-00000', 'stack-00001'],
    )
    const head = repo.writeStack('over-ssh').commitAndPush()
    t.match(await app.desiredState.refresh('manual').done, { status: 'completed', revision: head })
    clearInterval(sampler)
    clearInterval(sshSampler)
    t.same(seen, [], 'the key content was in no process command line')
    t.ok(sshSeen.length > 0, 'ssh ran (and was sampled)')
    const copied = sshSeen.join(' ').match(/IdentityFile=(\S+)/)?.[1] as string
    t.ok(copied, 'ssh used a key file')
    t.not(copied, config.gitSshKeyFile, 'not the mounted file')
    t.equal(statSync(copied).mode & 0o777, 0o600, 'a private 0600 copy')
    t.equal(statSync(dirname(copied)).mode & 0o777, 0o700, 'in a private directory')
    t.notOk(copied.startsWith(config.gitCacheDir), 'outside the cache dir')
    t.match(sshSeen.join(' '), /-F \/dev\/null/, 'no user ssh config')
    t.match(sshSeen.join(' '), /StrictHostKeyChecking=yes/)
    t.match(sshSeen.join(' '), /IdentityAgent=none/, 'no agent')

    const responses = [
      (await app.inject('/api/refresh-status')).body,
      (await app.inject('/api/stacks')).body,
      (await app.inject('/')).body,
    ].join('\n')
    for (const line of body) {
      t.notOk(responses.includes(line), 'responses hold no key line')
      t.notOk(JSON.stringify(app.logs).includes(line), 'logs hold no key line')
    }
    const cacheFiles = readdirSync(config.gitCacheDir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(join(entry.parentPath, entry.name)).toString('latin1'))
    t.notOk(
      cacheFiles.some((content) => body.some((line) => content.includes(line))),
      'no cache file holds the key',
    )
    await app.close()
    t.notOk(existsSync(copied), 'the private copy is removed on close')
  },
)

t.test('an unknown host key and a changed one: host_key_unverified', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  for (const [what, file] of [
    ['unknown', sshd.emptyKnownHostsFile],
    ['changed', sshd.wrongKnownHostsFile],
  ] as const) {
    const { app } = await sshApp(t, sshd.url(repo.bareDir), { GIT_SSH_KNOWN_HOSTS_FILE: file })
    await app.ready()
    const outcome = await app.desiredState.start()
    t.equal(outcome.error?.reason, 'host_key_unverified', `${what}: ${outcome.message}`)
    t.match(outcome.message, /GIT_SSH_KNOWN_HOSTS_FILE/, 'names the variable to set')
  }
})

t.test('a key the server does not accept: auth_failed naming GIT_SSH_KEY_FILE', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const { app } = await sshApp(t, sshd.url(repo.bareDir), {
    GIT_SSH_KEY_FILE: mountedKey(sshd.strangerKeyFile),
  })
  await app.ready()
  const outcome = await app.desiredState.start()
  t.equal(outcome.error?.reason, 'auth_failed', outcome.message)
  t.match(outcome.message, /GIT_SSH_KEY_FILE/)
})

t.test('the words for a path with no repository, and for an unknown SHA', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const startupMessage = async (url: string, env: Record<string, string> = {}) => {
    const { app } = await sshApp(t, url, env)
    await app.ready()
    const outcome = await app.desiredState.start()
    t.equal(outcome.status, 'failed')
    return outcome.message
  }
  const missing = sshd.url(`${repo.bareDir}-absent`)
  t.equal(
    await startupMessage(missing),
    `git_error: the ssh server answered that there is no repository at ${missing}, or that the key may not read it: check the path in GIT_REPO_URL, and that the public half of GIT_SSH_KEY_FILE is a deploy key of that repository`,
  )
  const sha = 'c'.repeat(40)
  t.equal(
    await startupMessage(sshd.url(repo.bareDir), { GIT_REVISION: sha }),
    `ref_not_found: GIT_REVISION ${sha} is not a commit in the repository: no branch or tag on the server contains it, so the server will not send it; check the SHA, or set GIT_REVISION to a branch or tag`,
  )
})

t.test('a server that never answers: timeout, and no ssh or git left behind', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 1 })
  const url = sshd.silentUrl(repo.bareDir)
  const { app } = await sshApp(t, url, {
    GIT_SSH_KNOWN_HOSTS_FILE: sshd.silentKnownHostsFile,
    GIT_TIMEOUT: '3s',
  })
  await app.ready()
  const outcome = await app.desiredState.start()
  t.equal(outcome.error?.reason, 'timeout', outcome.message)
  const port = url.match(/:(\d+)\//)?.[1] as string
  await waitFor(
    () => commandLinesContaining([`-p ${port}`, `127.0.0.1:${port}`, repo.bareDir]).length === 0,
    'ssh and git to be gone',
  )
  t.pass('no ssh or git process is left')
})

t.test(
  'the built server over ssh: ready; a wrong host key exits 1 naming the category',
  async (t) => {
    const repo = createFixtureRepo(git, { stacks: 1 })
    const good = await serviceEnv(git, sshd.url(repo.bareDir), sshEnv(sshd.url(repo.bareDir)))
    const service = startService(t, good)
    const base = `http://127.0.0.1:${good.PORT}`
    await waitFor(
      () =>
        fetch(`${base}/readyz`).then(
          (r) => r.ok,
          () => false,
        ),
      'the ssh-backed service to be ready',
    )
    service.child.kill('SIGTERM')
    t.equal(await service.exited, 0)

    const bad = startService(
      t,
      await serviceEnv(
        git,
        sshd.url(repo.bareDir),
        sshEnv(sshd.url(repo.bareDir), { GIT_SSH_KNOWN_HOSTS_FILE: sshd.wrongKnownHostsFile }),
      ),
    )
    t.equal(await bad.exited, 1)
    t.match(
      bad.output.stderr,
      /^docker-cd: startup refresh failed: host_key_unverified: .*GIT_SSH_KNOWN_HOSTS_FILE/,
    )
    const leftovers = readdirSync(process.env.TMPDIR ?? '/tmp').filter((name) =>
      name.startsWith('docker-cd-ssh-'),
    )
    t.same(leftovers, [], 'the private key copies are removed on exit')
  },
)

t.test('over ssh, the history lookup names each stack’s own commit', async (t) => {
  const repo = createFixtureRepo(git, { stacks: 0 })
  repo.writeStack('alpha')
  const added = repo.commitAndPush('add alpha')
  repo.writeFile('README.md', 'docs\n')
  repo.commitAndPush('docs')
  const { app } = await sshApp(t, sshd.url(repo.bareDir))
  await startApp(app)
  t.same(app.desiredState.lastOutcome()?.warnings, [], 'no warning: the lookup worked over ssh')
  const alpha = (await app.inject('/api/stacks/alpha')).json()
  t.match(alpha, { changedRevision: added, changedSubject: 'add alpha' })
  t.notOk(alpha.firstLook)
})
