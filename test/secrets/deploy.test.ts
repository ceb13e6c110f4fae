import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { generateX25519Identity, identityToRecipient } from 'age-encryption'
import { EventSource } from 'eventsource'
import t from 'tap'
import { stackFileKey } from '../../services/base/index.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { encryptSops } from '../helpers/sops-encrypt.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 27 on the real engine with Compose v2: SOPS files encrypted for an
// age key, committed as ciphertext, reach the containers as plaintext — an
// encrypted dotenv as `env_file`, an encrypted YAML bind-mounted as a file,
// an encrypted `.env` for interpolation — while the plaintext is only in
// SECRETS_DIR (a tmpfs here: /dev/shm): never under STACKS_DIR or
// GIT_CACHE_DIR, in a log line or an answer. A wrong key and a flipped byte
// fail their own stack only, with the reason and no plaintext; a
// re-encryption for a second recipient recreates nothing; a stack removed
// from Git takes its plaintext with it.

const unavailable =
  hostUnavailable() ?? (existsSync('/dev/shm') ? undefined : 'no /dev/shm (tmpfs)')
const API_TOKEN = 'api-token-secrets-91c2f0'
const auth = { authorization: `Bearer ${API_TOKEN}` }
const DB_PASSWORD = 'pw-2f9c1e7a-db-s3cr3t'
const TOKEN = 'tok-77d1c0a9-app-s3cr3t'
const GREETING = 'hi-5b0e44c2-interp-s3cr3t'
const PLAINTEXTS = [DB_PASSWORD, TOKEN, GREETING]

/** Every regular file below `dir` (symlinks are not followed: they point into SECRETS_DIR). */
function filesBelow(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...filesBelow(path))
    else if (entry.isFile()) out.push(path)
  }
  return out
}

t.test('SOPS files on the real engine', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-secrets-deploy' })
  t.teardown(() => server.close())
  const identity = await generateX25519Identity()
  const recipient = await identityToRecipient(identity)
  const second = await identityToRecipient(await generateX25519Identity())
  const stranger = await identityToRecipient(await generateX25519Identity())
  const pid = process.pid
  const [good, wrong, flipped] = [`sg-${pid}`, `sw-${pid}`, `sf-${pid}`]
  for (const project of [good, wrong, flipped]) t.teardown(() => removeProject(project))
  const secretsDir = mkdtempSync('/dev/shm/docker-cd-secrets-')
  t.teardown(() => rmSync(secretsDir, { recursive: true, force: true }))

  const files = async (recipients: string[]) => ({
    'db.env': (await encryptSops(`DB_PASSWORD=${DB_PASSWORD}\n`, 'dotenv', { recipients })).text,
    'app.yaml': (await encryptSops(`token: ${TOKEN}\nport: 8080\n`, 'yaml', { recipients })).text,
    '.env': (await encryptSops(`GREETING=${GREETING}\n`, 'dotenv', { recipients })).text,
  })
  const compose = `services:\n  app:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    env_file: db.env\n    environment:\n      GREETING: \${GREETING}\n    volumes:\n      - ./app.yaml:/etc/app.yaml:ro\n`
  const repo = createFixtureRepo(server, { stacks: 0 })
  const write = (stack: string, content: Record<string, string>) => {
    repo.writeFile(`${stack}/compose.yaml`, compose)
    for (const [file, text] of Object.entries(content)) repo.writeFile(`${stack}/${file}`, text)
  }
  write(good, await files([recipient]))
  write(wrong, await files([stranger]))
  const tampered = await files([recipient])
  // One byte of a value's ciphertext flipped (the base64 of `data:`).
  tampered['db.env'] = tampered['db.env']?.replace(
    /data:([A-Za-z0-9+/])/,
    (_m, c: string) => `data:${c === 'A' ? 'B' : 'A'}`,
  ) as string
  write(flipped, tampered)
  repo.commitAndPush('three stacks with secrets')

  const stacksDir = tempDir('docker-cd-stacks-')
  const config = configFor(server, repo.url, {
    SYNC_MODE: 'apply',
    STACKS_DIR: stacksDir,
    SYNC_TIMEOUT: '20s',
    API_TOKEN,
    SOPS_AGE_KEY: identity,
    SECRETS_DIR: secretsDir,
  })
  const app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
  const detail = async (name: string) =>
    (await app.inject({ url: `/api/stacks/${name}`, headers: auth })).json()
  // Every event of the feed, as a real EventSource client reads it.
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const feedText: string[] = []
  const feed = new EventSource(`${base}/api/events`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, ...auth } }),
  })
  t.teardown(() => feed.close())
  for (const kind of ['stack-status', 'sync', 'refresh'])
    feed.addEventListener(kind, (event) => feedText.push(event.data))
  await new Promise((resolve) => feed.addEventListener('open', resolve, { once: true }))
  await startApp(app)
  await waitFor(
    async () => (await detail(good)).status === 'synced',
    'the good stack deployed',
    60_000,
  )
  const container = `${good}-app-1`
  t.equal(
    docker('exec', container, 'sh', '-c', 'echo "$DB_PASSWORD"'),
    DB_PASSWORD,
    'env_file decrypted',
  )
  t.equal(
    docker('exec', container, 'sh', '-c', 'echo "$GREETING"'),
    GREETING,
    '.env interpolation decrypted',
  )
  t.equal(
    docker('exec', container, 'cat', '/etc/app.yaml'),
    `token: ${TOKEN}\nport: 8080`,
    'the mounted YAML reads as plaintext inside the container',
  )
  t.notMatch(docker('exec', container, 'env'), /sops_/, 'no SOPS metadata in the environment')

  const failedWith = async (name: string, reason: RegExp) => {
    const d = await waitFor(
      async () => {
        const d = await detail(name)
        return d.status === 'failed' ? d : undefined
      },
      `${name} failed`,
      60_000,
    )
    t.match(d.reason, reason, `${name}: ${d.reason}`)
    return d
  }
  await failedWith(
    wrong,
    /\.env cannot be decrypted: none of the configured age keys is a recipient/,
  )
  await failedWith(flipped, /db\.env cannot be decrypted/)
  t.equal(
    docker('ps', '-aq', '--filter', `label=com.docker.compose.project=${wrong}`),
    '',
    'a wrong key touches nothing on the host',
  )

  // Nothing holds a plaintext value but SECRETS_DIR.
  await app.host?.idle()
  const answers = [
    '/api/stacks',
    `/api/stacks/${good}`,
    `/api/stacks/${wrong}`,
    `/api/stacks/${flipped}`,
    `/api/stacks/${good}/compose`,
    `/api/stacks/${good}/archive`,
    '/api/host',
    '/metrics',
    '/ui',
    `/ui/stacks/${good}`,
    `/ui/stacks/${good}/files/db.env`,
    `/ui/stacks/${good}/files/app.yaml`,
    `/ui/stacks/${good}/files/.env`,
  ]
  for (const url of answers) {
    const res = await app.inject({ url, headers: auth })
    for (const value of PLAINTEXTS) t.notMatch(res.body, value, `${url} holds no plaintext`)
  }
  const onDisk = [...filesBelow(stacksDir), ...filesBelow(config.gitCacheDir)]
  t.ok(onDisk.length > 10, `${onDisk.length} files read`)
  for (const file of onDisk) {
    const content = readFileSync(file)
    for (const value of PLAINTEXTS)
      if (content.includes(value)) t.fail(`${file} holds a plaintext value`)
  }
  t.ok(lstatSync(join(stacksDir, good, 'db.env')).isSymbolicLink(), 'the work tree links to it')
  // The failures' events are on the wire once the server is idle: wait for them to arrive.
  await waitFor(
    () => feedText.some((data) => data.includes(flipped) && data.includes('cannot be decrypted')),
    "the failure's event on the feed",
  )
  for (const value of PLAINTEXTS)
    t.notMatch(feedText.join('\n'), value, 'no event of the feed holds a plaintext value')
  const logs = JSON.stringify(app.logs)
  for (const value of PLAINTEXTS) t.notMatch(logs, value, 'no log line holds a plaintext value')
  t.equal(
    readFileSync(join(secretsDir, stackFileKey(good), 'db.env'), 'utf8'),
    `DB_PASSWORD=${DB_PASSWORD}\n`,
    'the plaintext lives in SECRETS_DIR',
  )

  // Re-encrypted for a second recipient: the tree changes, the plaintext does not.
  const id = docker('inspect', '-f', '{{.Id}}', container)
  const before = (await detail(good)).treeHash
  for (const [file, text] of Object.entries(await files([recipient, second])))
    repo.writeFile(`${good}/${file}`, text)
  repo.commitAndPush('re-encrypted for a second recipient')
  await app.desiredState.refresh('manual').done
  await waitFor(
    async () => {
      const d = await detail(good)
      return (
        d.treeHash !== before && d.sync?.deployedTreeHash === d.treeHash && d.status === 'synced'
      )
    },
    'the re-encrypted tree recorded',
    60_000,
  )
  t.equal(docker('inspect', '-f', '{{.Id}}', container), id, 're-encryption recreates nothing')

  // The stack leaves Git: its plaintext goes.
  repo.removeStack(good)
  repo.commitAndPush('the good stack leaves')
  await app.desiredState.refresh('manual').done
  await waitFor(
    () => !existsSync(join(secretsDir, stackFileKey(good))),
    'the plaintext of a removed stack is gone',
  )
})
