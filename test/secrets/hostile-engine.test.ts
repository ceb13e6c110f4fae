import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { generateX25519Identity, identityToRecipient } from 'age-encryption'
import t from 'tap'
import { stackFileKey } from '../../services/base/index.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { encryptSops } from '../helpers/sops-encrypt.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 27, the hostile cases on the real engine: two stacks with an
// encrypted file at the same relative path; a path with spaces and
// non-ASCII letters; Compose echoing a decrypted value in its error (the
// reason, history, logs and answers hold [REDACTED]); the dashboard's file
// view marks an encrypted file; an encrypted file inside a bind-mounted
// directory is noted; a reboot (SECRETS_DIR emptied while docker-cd is
// stopped, a container restarted by its policy meanwhile) is healed by the
// startup check.

const unavailable =
  hostUnavailable() ?? (existsSync('/dev/shm') ? undefined : 'no /dev/shm (tmpfs)')
const API_TOKEN = 'api-token-hostile27-5d1e'
const auth = { authorization: `Bearer ${API_TOKEN}` }
const ONE = 'pw-one-8c1d2e3f-s3cr3t'
const TWO = 'pw-two-1a9b7c6d-s3cr3t'
const UNI = 'pw-uni-4e5f6a7b-s3cr3t'
const IN_DIR = 'pw-dir-0f1e2d3c-s3cr3t'
const ECHOED = 'Echoed-9d8c7b6a-S3cr3t'
// As committed in a dotenv (quoted), and with a quote Go's %q escapes in Compose's error.
const QUOTED_CORE = 'dq-3e2f1a0b-s3cr3t'
const GO_QUOTED_CORE = 'ted-7a6b5c4d-s3cr3t'
const PLAINTEXTS = [ONE, TWO, UNI, IN_DIR, ECHOED, QUOTED_CORE, GO_QUOTED_CORE]

t.test('hostile SOPS inputs on the real engine', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-hostile27' })
  t.teardown(() => server.close())
  const identity = await generateX25519Identity()
  const recipients = [await identityToRecipient(identity)]
  const pid = process.pid
  const [one, two, uni, echo, inDir, quoted, goQuoted] = [
    'h1',
    'h2',
    'h3',
    'h4',
    'h5',
    'h6',
    'h7',
  ].map((s) => `${s}-${pid}`) as [string, string, string, string, string, string, string]
  for (const project of [one, two, uni, echo, inDir, quoted, goQuoted])
    t.teardown(() => removeProject(project))
  const secretsDir = mkdtempSync('/dev/shm/docker-cd-hostile-')
  t.teardown(() => rmSync(secretsDir, { recursive: true, force: true }))
  const dotenv = async (text: string) => (await encryptSops(text, 'dotenv', { recipients })).text
  const yaml = async (text: string) => (await encryptSops(text, 'yaml', { recipients })).text
  const service = (extra: string) =>
    `services:\n  app:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    restart: always\n${extra}`

  const repo = createFixtureRepo(server, { stacks: 0 })
  // Two stacks, one relative path, two plaintexts.
  repo.writeFile(`${one}/compose.yaml`, service('    env_file: db.env\n'))
  repo.writeFile(`${one}/db.env`, await dotenv(`PASSWORD=${ONE}\n`))
  repo.writeFile(
    `${one}/app.yaml`,
    await yaml(`token: ${ONE}\n`), // mounted: the reboot case below
  )
  repo.writeFile(
    `${one}/compose.yaml`,
    service('    env_file: db.env\n    volumes:\n      - ./app.yaml:/etc/app.yaml:ro\n'),
  )
  repo.writeFile(`${two}/compose.yaml`, service('    env_file: db.env\n'))
  repo.writeFile(`${two}/db.env`, await dotenv(`PASSWORD=${TWO}\n`))
  // Spaces and non-ASCII letters in the path.
  repo.writeFile(
    `${uni}/compose.yaml`,
    service(
      '    env_file: "my dir/pässwörd.env"\n    volumes:\n      - "./my dir/ünï côde.yaml:/etc/u.yaml:ro"\n',
    ),
  )
  repo.writeFile(`${uni}/my dir/pässwörd.env`, await dotenv(`PASSWORD=${UNI}\n`))
  repo.writeFile(`${uni}/my dir/ünï côde.yaml`, await yaml(`token: ${UNI}\n`))
  // Compose echoes the value it cannot use.
  repo.writeFile(`${echo}/compose.yaml`, service(`    ports: ["\${GREETING}"]\n`))
  repo.writeFile(`${echo}/.env`, await dotenv(`GREETING=${ECHOED}\n`))
  repo.writeFile(`${quoted}/compose.yaml`, service(`    ports: ["\${GREETING}"]\n`))
  repo.writeFile(`${quoted}/.env`, await dotenv(`GREETING="X ${QUOTED_CORE}"\n`))
  repo.writeFile(`${goQuoted}/compose.yaml`, service(`    cpus: "\${CPUS}"\n`))
  repo.writeFile(`${goQuoted}/.env`, await dotenv(`CPUS=Quo"${GO_QUOTED_CORE}\n`))
  // An encrypted file inside a bind-mounted directory.
  repo.writeFile(`${inDir}/compose.yaml`, service('    volumes:\n      - ./conf:/etc/conf:ro\n'))
  repo.writeFile(`${inDir}/conf/secret.yaml`, await yaml(`token: ${IN_DIR}\n`))
  repo.writeFile(`${inDir}/conf/plain.conf`, 'plain=1\n')
  repo.commitAndPush('hostile stacks')

  const stacksDir = tempDir('docker-cd-stacks-')
  const config = configFor(server, repo.url, {
    SYNC_MODE: 'apply',
    STACKS_DIR: stacksDir,
    SYNC_TIMEOUT: '20s',
    API_TOKEN,
    SOPS_AGE_KEY: identity,
    SECRETS_DIR: secretsDir,
  })
  let app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
  const detail = async (name: string) =>
    (await app.inject({ url: `/api/stacks/${name}`, headers: auth })).json()
  await startApp(app)
  const settled = (name: string, status: string) =>
    waitFor(
      async () => {
        const d = await detail(name)
        return d.status === status ? d : undefined
      },
      `${name} ${status}`,
      60_000,
    )
  await settled(one, 'synced')
  await settled(two, 'synced')
  await settled(uni, 'synced')
  await settled(inDir, 'synced')
  t.equal(docker('exec', `${one}-app-1`, 'sh', '-c', 'echo "$PASSWORD"'), ONE, 'stack one')
  t.equal(docker('exec', `${two}-app-1`, 'sh', '-c', 'echo "$PASSWORD"'), TWO, 'stack two')
  t.equal(docker('exec', `${uni}-app-1`, 'sh', '-c', 'echo "$PASSWORD"'), UNI, 'unicode env')
  t.equal(docker('exec', `${uni}-app-1`, 'cat', '/etc/u.yaml'), `token: ${UNI}`, 'unicode mount')

  // The encrypted file in a mounted directory: the container sees a link it cannot follow.
  const seen = docker('exec', `${inDir}-app-1`, 'sh', '-c', 'cat /etc/conf/secret.yaml 2>&1; true')
  t.notMatch(seen, IN_DIR, `the container cannot read it through the directory: ${seen}`)
  const inDirDetail = await detail(inDir)
  t.match(
    JSON.stringify(inDirDetail),
    /SOPS-encrypted \.\/conf\/secret\.yaml through \.\/conf \(a bind mount\)/,
    'the check says the encrypted file cannot be read through the mounted directory',
  )

  // Compose echoed the decrypted value: scrubbed everywhere.
  const failed = await settled(echo, 'failed')
  t.match(failed.reason, /\[REDACTED\]/, `reason scrubbed: ${failed.reason}`)
  for (const name of [quoted, goQuoted]) {
    const d = await settled(name, 'failed')
    t.match(d.reason, /\[REDACTED\]/, `${name}: reason scrubbed: ${d.reason}`)
  }
  await app.host?.idle()

  // The dashboard marks encrypted files.
  const login = await app.inject({
    method: 'POST',
    url: '/ui/login',
    payload: `token=${API_TOKEN}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  const session = { cookie: String(login.headers['set-cookie']).split(';')[0] as string }
  const page = await app.inject({ url: `/ui/stacks/${one}/files/db.env`, headers: session })
  t.match(page.body, /sops_mac/, 'the file view shows the ciphertext')
  t.match(page.body, /id="encrypted"/, 'the file view says the file is SOPS-encrypted')
  const plain = await app.inject({ url: `/ui/stacks/${one}/files/compose.yaml`, headers: session })
  t.notMatch(plain.body, /id="encrypted"/, 'a plain file is not marked')

  const answers = ['/api/stacks', '/api/host', '/metrics', '/ui']
  for (const name of [one, two, uni, echo, inDir, quoted, goQuoted])
    answers.push(
      `/api/stacks/${name}`,
      `/api/stacks/${name}/compose`,
      `/api/stacks/${name}/archive`,
      `/ui/stacks/${name}`,
    )
  const noPlaintext = async (when: string) => {
    for (const url of answers) {
      const res = await app.inject({ url, headers: url.startsWith('/ui') ? session : auth })
      for (const value of PLAINTEXTS)
        if (res.body.includes(value)) t.fail(`${when}: ${url} holds ${value}`)
    }
    const logs = JSON.stringify(app.logs)
    for (const value of PLAINTEXTS) t.notMatch(logs, value, `${when}: no log line holds ${value}`)
  }
  await noPlaintext('first run')
  t.ok(
    app.logs.some((line) => JSON.stringify(line).includes('[REDACTED]')),
    'the echoed value was logged scrubbed',
  )

  // Reboot: docker-cd stopped, SECRETS_DIR emptied, a container restarted by its policy.
  const plaintextOf = (stack: string, path: string) => join(secretsDir, stackFileKey(stack), path)
  const mountSource = docker('inspect', '-f', '{{range .Mounts}}{{.Source}}{{end}}', `${one}-app-1`)
  t.comment(`the engine's bind source: ${mountSource}`)
  const empty = () => {
    for (const entry of readdirSync(secretsDir))
      rmSync(join(secretsDir, entry), { recursive: true, force: true })
  }
  const restartApp = async () => {
    app = await build(t, config, { maxEventLoopDelayMs: 60_000 })
    await startApp(app)
  }
  const running = () =>
    waitFor(
      () => docker('inspect', '-f', '{{.State.Running}}', `${one}-app-1`) === 'true',
      'one runs',
      60_000,
    )
  const readOr = (path: string) => {
    try {
      return readFileSync(path, 'utf8')
    } catch {
      return undefined
    }
  }
  const backAgain = async (when: string, manual = false) => {
    await waitFor(
      () =>
        existsSync(plaintextOf(two, 'db.env')) &&
        readOr(plaintextOf(one, 'app.yaml')) === `token: ${ONE}\n`,
      `${when}: the startup check writes the plaintext again`,
      60_000,
    ).catch((error) => t.fail((error as Error).message))
    await app.host?.idle()
    for (const line of app.logs) if (line.level >= 40) t.comment(JSON.stringify(line).slice(0, 600))
    if (manual) {
      // The engine could not start the container (its mount was a dangling link): without
      // SYNC_SELF_HEAL it stays down until a manual sync.
      const d = await detail(one)
      t.equal(d.status, 'out_of_sync', `${when}: ${d.reason}`)
      await app.inject({ method: 'POST', url: `/api/stacks/${one}/sync`, headers: auth })
      await settled(one, 'synced')
    }
    t.equal((await detail(one)).status, 'synced', `${when}: one ${(await detail(one)).reason}`)
    t.equal((await detail(two)).status, 'synced', `${when}: two stays synced`)
    t.equal(readFileSync(plaintextOf(two, 'db.env'), 'utf8'), `PASSWORD=${TWO}\n`, 'two again')
    await running().catch((error) => t.fail((error as Error).message))
    t.equal(
      docker('exec', `${one}-app-1`, 'cat', '/etc/app.yaml'),
      `token: ${ONE}`,
      `${when}: the mounted file reads as plaintext`,
    )
    t.equal(docker('exec', `${one}-app-1`, 'sh', '-c', 'echo "$PASSWORD"'), ONE, `${when}: env`)
    await noPlaintext(when)
  }

  // 1. SECRETS_DIR emptied while docker-cd is stopped; the containers did not restart.
  const id = docker('inspect', '-f', '{{.Id}}', `${one}-app-1`)
  await app.close()
  empty()
  await restartApp()
  await backAgain('reboot')
  t.equal(docker('inspect', '-f', '{{.Id}}', `${one}-app-1`), id, 'nothing recreated')

  // 2. The container was restarted by its policy before docker-cd wrote the file (the
  // engine cannot mount the dangling link), and an empty directory stands where the
  // plaintext goes (what an engine leaves at a missing bind source).
  await app.close()
  empty()
  const restart = (() => {
    try {
      return docker('restart', '-t', '1', `${one}-app-1`)
    } catch (error) {
      return `restart failed: ${(error as Error).message}`
    }
  })()
  t.comment(`restarted while SECRETS_DIR is empty: ${restart}`)
  mkdirSync(plaintextOf(one, 'app.yaml'), { recursive: true })
  await restartApp()
  await backAgain('a directory at the plaintext', true)
})
