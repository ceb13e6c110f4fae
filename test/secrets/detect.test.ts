import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { generateX25519Identity, identityToRecipient } from 'age-encryption'
import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { encryptSops } from '../helpers/sops-encrypt.js'
import { tempDir } from '../helpers/temp-dir.js'

// Issue 27 in detect mode on the real engine. Deployed once in apply mode,
// then watched with SYNC_MODE=detect on the same directories: with the key,
// a changed plaintext of a mounted file shows in the plan (issue 26) and a
// re-encryption does not; without a key the stack is `unknown` with a
// reason naming the file and the key, and is not checked again and again.

const unavailable =
  hostUnavailable() ?? (existsSync('/dev/shm') ? undefined : 'no /dev/shm (tmpfs)')
const API_TOKEN = 'api-token-detect27-77aa'
const auth = { authorization: `Bearer ${API_TOKEN}` }
const V1 = 'v1-3c4d5e6f-s3cr3t'
const V2 = 'v2-9a8b7c6d-s3cr3t'

t.test('detect mode with and without a key', { skip: unavailable ?? false }, async (t) => {
  const image = ensureTestImage()
  const server = await startGitServer({ token: 'tok-detect27' })
  t.teardown(() => server.close())
  const identity = await generateX25519Identity()
  const recipient = await identityToRecipient(identity)
  const second = await identityToRecipient(await generateX25519Identity())
  const stack = `sd-${process.pid}`
  t.teardown(() => removeProject(stack))
  const secretsDir = mkdtempSync('/dev/shm/docker-cd-detect-')
  t.teardown(() => rmSync(secretsDir, { recursive: true, force: true }))
  const repo = createFixtureRepo(server, { stacks: 0 })
  repo.writeFile(
    `${stack}/compose.yaml`,
    `services:\n  app:\n    image: "${image}"\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n    volumes:\n      - ./app.yaml:/etc/app.yaml:ro\n`,
  )
  const appYaml = async (value: string, recipients: string[]) =>
    (await encryptSops(`token: ${value}\n`, 'yaml', { recipients })).text
  repo.writeFile(`${stack}/app.yaml`, await appYaml(V1, [recipient]))
  repo.commitAndPush('a stack with a mounted secret')

  const stacksDir = tempDir('docker-cd-stacks-')
  const base = {
    STACKS_DIR: stacksDir,
    SYNC_TIMEOUT: '20s',
    API_TOKEN,
    SECRETS_DIR: secretsDir,
  }
  const applied = configFor(server, repo.url, {
    ...base,
    SYNC_MODE: 'apply',
    SOPS_AGE_KEY: identity,
  })
  let app = await build(t, applied, { maxEventLoopDelayMs: 60_000 })
  const detail = async () =>
    (await app.inject({ url: `/api/stacks/${stack}`, headers: auth })).json()
  await startApp(app)
  await waitFor(async () => (await detail()).status === 'synced', 'deployed', 60_000)
  const id = docker('inspect', '-f', '{{.Id}}', `${stack}-app-1`)
  await app.close()

  // Detect mode with the key, on the same directories.
  const detect = (env: Record<string, string>) =>
    configFor(server, repo.url, { ...base, GIT_CACHE_DIR: applied.gitCacheDir, ...env })
  app = await build(t, detect({ SYNC_MODE: 'detect', SOPS_AGE_KEY: identity }), {
    maxEventLoopDelayMs: 60_000,
  })
  await startApp(app)
  await waitFor(async () => (await detail()).status === 'synced', 'detect: synced', 60_000)

  // Re-encrypted for a second recipient: nothing to do.
  repo.writeFile(`${stack}/app.yaml`, await appYaml(V1, [recipient, second]))
  const reencrypted = repo.commitAndPush('re-encrypted')
  await app.desiredState.refresh('manual').done
  await app.host?.idle()
  let d = await waitFor(async () => {
    const d = await detail()
    return d.revision === reencrypted ? d : undefined
  }, 'the re-encryption seen')
  await app.host?.idle()
  d = await detail()
  t.equal(d.status, 'synced', `a re-encryption changes nothing: ${d.reason}`)

  // A new plaintext: the service reading the file would be recreated.
  repo.writeFile(`${stack}/app.yaml`, await appYaml(V2, [recipient]))
  repo.commitAndPush('a new token')
  await app.desiredState.refresh('manual').done
  d = await waitFor(
    async () => {
      const d = await detail()
      return d.status === 'out_of_sync' ? d : undefined
    },
    'the changed plaintext in the plan',
    60_000,
  )
  t.match(d.reason, /app\.yaml changed/, `plan: ${d.reason}`)
  t.equal(docker('inspect', '-f', '{{.Id}}', `${stack}-app-1`), id, 'detect touches nothing')
  for (const value of [V1, V2]) t.notMatch(JSON.stringify(d), value, 'no plaintext in the answer')
  await app.close()

  // Without a key: unknown, the file and the key named, not checked again and again.
  app = await build(t, detect({ SYNC_MODE: 'detect' }), { maxEventLoopDelayMs: 60_000 })
  await startApp(app)
  d = await waitFor(
    async () => {
      const d = await detail()
      return d.status === 'unknown' && d.reason ? d : undefined
    },
    'without a key: unknown',
    60_000,
  )
  t.match(d.reason, /app\.yaml is SOPS-encrypted and no age key is configured/, d.reason)
  // Not checked again on a timer: test/host/monitor-key.test.ts proves it
  // deterministically. Here: a refresh that changes nothing leaves it unknown.
  await app.desiredState.refresh('manual').done
  await app.host?.idle()
  t.equal((await detail()).status, 'unknown', 'still unknown, not synced or failed')
  for (const value of [V1, V2]) t.notMatch(JSON.stringify(app.logs), value, 'no plaintext logged')
})
