import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { generateX25519Identity, identityToRecipient } from 'age-encryption'
import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { encryptSops } from '../helpers/sops-encrypt.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 27, SECRETS_DIR and the key on the real engine: SECRETS_DIR on
// persistent disk (/tmp here) or unusable is a per-stack reason with
// nothing written, the other stacks deploy; SOPS_AGE_KEY_FILE replaced
// while running (a rotated Docker secret) is read at the next decryption;
// the key is in no Compose argv or environment, log line or answer; a blob
// over 32 MiB is not read as SOPS and does not stop the stack; a symlink
// committed where an encrypted file was leaves no link into SECRETS_DIR.

const unavailable =
  hostUnavailable() ?? (existsSync('/dev/shm') ? undefined : 'no /dev/shm (tmpfs)')
const API_TOKEN = 'api-token-keys27-31bf'
const auth = { authorization: `Bearer ${API_TOKEN}` }
const A = 'pw-a-6e7f8091-s3cr3t'
const B = 'pw-b-1234abcd-s3cr3t'

t.test('SECRETS_DIR and the key', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-keys27' })
  t.teardown(() => server.close())
  const first = await generateX25519Identity()
  const rotated = await generateX25519Identity()
  const pid = process.pid
  const [secret, plain] = [`ks-${pid}`, `kp-${pid}`]
  for (const project of [secret, plain]) t.teardown(() => removeProject(project))
  const service = (extra = '') =>
    `services:\n  app:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n${extra}`
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile(`${secret}/compose.yaml`, service('    env_file: db.env\n'))
  const dbEnv = async (value: string, identity: string) =>
    (
      await encryptSops(`PASSWORD=${value}\n`, 'dotenv', {
        recipients: [await identityToRecipient(identity)],
      })
    ).text
  repo.writeFile(`${secret}/db.env`, await dbEnv(A, first))
  repo.writeFile(`${plain}/compose.yaml`, service())
  repo.commitAndPush('a stack with a secret, one without')

  const recordDir = tempDir('docker-cd-compose-record-')
  const recordFile = join(recordDir, 'calls.log')
  const wrapper = join(recordDir, 'docker-compose')
  writeFileSync(
    wrapper,
    `#!/bin/sh\n{ echo "--- argv"; printf '%s\\n' "$@"; echo "--- env"; env; } >> '${recordFile}'\nexec /usr/libexec/docker/cli-plugins/docker-compose "$@"\n`,
  )
  chmodSync(wrapper, 0o755)
  const keyFile = join(tempDir('docker-cd-key-'), 'keys.txt')
  writeFileSync(keyFile, `# created: now\n${first}\n`, { mode: 0o600 })
  const stacksDir = tempDir('docker-cd-stacks-')
  const base = {
    SYNC_MODE: 'apply',
    STACKS_DIR: stacksDir,
    SYNC_TIMEOUT: '20s',
    API_TOKEN,
    SOPS_AGE_KEY_FILE: keyFile,
  }
  let app: Awaited<ReturnType<typeof build>>
  const detail = async (name: string) =>
    (await app.inject({ url: `/api/stacks/${name}`, headers: auth })).json()
  const settled = (name: string, status: string) =>
    waitFor(
      async () => {
        const d = await detail(name)
        return d.status === status && d.reason ? d : undefined
      },
      `${name} ${status}`,
      60_000,
    )
  const logsAndAnswers = async () => {
    const bodies = []
    for (const url of ['/api/stacks', `/api/stacks/${secret}`, '/api/host', '/metrics'])
      bodies.push((await app.inject({ url, headers: auth })).body)
    return JSON.stringify(app.logs) + bodies.join('\n')
  }

  // 1. SECRETS_DIR on persistent disk: that stack is unknown with the reason; nothing written.
  const onDisk = join(tempDir('docker-cd-not-tmpfs-'), 'secrets')
  let config = configFor(server, repo.url, { ...base, SECRETS_DIR: onDisk })
  app = await build(t, config, { maxEventLoopDelayMs: 60_000, composeCommand: wrapper })
  await startApp(app)
  let d = await settled(secret, 'unknown')
  t.match(d.reason, /SECRETS_DIR .* is not memory-backed .*tmpfs expected/, d.reason)
  await settled(plain, 'synced')
  t.same(existsSync(onDisk) ? readdirSync(onDisk) : [], [], 'nothing written on disk')
  t.equal(docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${secret}`), '')
  t.notMatch(await logsAndAnswers(), A, 'no plaintext')
  await app.close()

  // 2. SECRETS_DIR unusable (a file where its folder goes).
  const shm = mkdtempSync('/dev/shm/docker-cd-keys-')
  t.teardown(() => rmSync(shm, { recursive: true, force: true }))
  writeFileSync(join(shm, 'file'), '')
  config = configFor(server, repo.url, {
    ...base,
    GIT_CACHE_DIR: config.gitCacheDir,
    SECRETS_DIR: join(shm, 'file', 'secrets'),
  })
  app = await build(t, config, { maxEventLoopDelayMs: 60_000, composeCommand: wrapper })
  await startApp(app)
  d = await settled(secret, 'unknown')
  t.match(d.reason, /SECRETS_DIR .* cannot be used: ENOTDIR/, d.reason)
  await app.close()

  // 3. A good SECRETS_DIR; then the key file rotated while running.
  const secretsDir = join(shm, 'secrets')
  config = configFor(server, repo.url, {
    ...base,
    GIT_CACHE_DIR: config.gitCacheDir,
    SECRETS_DIR: secretsDir,
  })
  app = await build(t, config, { maxEventLoopDelayMs: 60_000, composeCommand: wrapper })
  await startApp(app)
  await settled(secret, 'synced')
  t.equal(docker('exec', `${secret}-app-1`, 'sh', '-c', 'echo "$PASSWORD"'), A)
  writeFileSync(keyFile, `${rotated}\n`)
  repo.writeFile(`${secret}/db.env`, await dbEnv(B, rotated))
  // A blob over 32 MiB beside it: not read as SOPS, written as it is.
  repo.writeFile(`${secret}/big.bin`, Buffer.alloc(33 * 1024 * 1024, 'x'))
  repo.commitAndPush('rotated key, new password, a big blob')
  await app.desiredState.refresh('manual').done
  await waitFor(
    async () =>
      (await detail(secret)).status === 'synced' &&
      docker('exec', `${secret}-app-1`, 'sh', '-c', 'echo "$PASSWORD"') === B,
    'the rotated key decrypts the new file',
    60_000,
  ).catch((error) => t.fail(`${(error as Error).message}: ${JSON.stringify(app.logs.slice(-5))}`))
  t.ok(lstatSync(join(stacksDir, secret, 'big.bin')).isFile(), 'the big blob is a plain file')

  // 3b. The key file half-written (a rotation in progress): unknown for now, then back.
  const C = 'pw-c-55aa66bb-s3cr3t'
  writeFileSync(keyFile, 'AGE-SECRET-KEY-1QQQQ\n')
  repo.writeFile(`${secret}/db.env`, await dbEnv(C, rotated))
  repo.commitAndPush('a third password while the key file is being replaced')
  await app.desiredState.refresh('manual').done
  d = await waitFor(
    async () => {
      const d = await detail(secret)
      return d.revision === repo.head() && /age keys/.test(`${d.reason}`) ? d : undefined
    },
    'a broken key file said',
    60_000,
  )
  t.match(d.reason, /SOPS_AGE_KEY_FILE line 1: malformed age identity/, `${d.status}: ${d.reason}`)
  t.notMatch(d.reason, /QQQQ/, 'the line is named, not shown')
  writeFileSync(keyFile, `${rotated}\n`)
  await waitFor(
    async () =>
      (await detail(secret)).status === 'synced' &&
      docker('exec', `${secret}-app-1`, 'sh', '-c', 'echo "$PASSWORD"') === C,
    'the key file whole again: deployed without a manual sync',
    90_000,
  ).catch(async (error) =>
    t.fail(`${(error as Error).message}: ${JSON.stringify(await detail(secret))}`),
  )

  // 4. A symlink committed where the encrypted file was.
  repo.remove(`${secret}/db.env`)
  repo.writeFile(`${secret}/real.env`, await dbEnv(B, rotated))
  repo.symlink(`${secret}/db.env`, 'real.env')
  repo.commitAndPush('db.env is a link in Git')
  await app.desiredState.refresh('manual').done
  await app.host?.idle()
  d = await waitFor(
    async () => {
      const d = await detail(secret)
      return d.revision === repo.head() && !['synced', 'syncing'].includes(d.status) ? d : undefined
    },
    'the link commit judged',
    60_000,
  ).catch(async () => detail(secret))
  t.match(d.reason, /env file .*db\.env not found/, `a link in Git is not written: ${d.reason}`)
  const link = join(stacksDir, secret, 'db.env')
  t.notOk(
    existsSync(link) && lstatSync(link).isSymbolicLink(),
    'no link left where Git has a symlink (work trees write none)',
  )

  // The key: in no Compose argv or environment, log line or answer.
  const calls = readFileSync(recordFile, 'utf8')
  t.ok(calls.split('--- argv\n').length > 3, 'Compose ran')
  for (const key of [first, rotated]) {
    t.notMatch(calls, key, 'no key in a Compose argv or environment')
    t.notMatch(calls, keyFile, 'not even the key file path')
    t.notMatch(await logsAndAnswers(), key, 'no key in logs or answers')
  }
  t.notMatch(calls, /SOPS_AGE/, 'no SOPS_AGE_* variable reaches Compose')
  for (const value of [A, B, C]) t.notMatch(await logsAndAnswers(), value, 'no plaintext')
})
