import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import {
  createCompose,
  envFilesNamed,
  envFileValues,
  scrubEnvFileValues,
} from '../../services/host/index.js'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// Compose quotes env file lines in its messages, and those become a stack's
// reason (stored, logged, on pages, in events). The values of the stack's
// `.env` and `env_file:` files are cut out first; and with API_TOKEN set
// the public status page shows no reason at all.

const PASSWORD = 'hunter2!dbpass'
const API_TOKEN = 'api-tok-env-scrub-8f1e2d'

t.test('env_file names in every form Compose accepts', async (t) => {
  t.same(
    envFilesNamed(
      [
        'services:',
        '  a:',
        '    env_file: one.env # comment',
        '  b:',
        '    env_file: ["two.env", three.env]',
        '  c:',
        '    env_file:',
        '      - four.env',
        '      - path: ./five.env',
        '        required: false',
        '    image: x',
      ].join('\n'),
    ),
    ['one.env', 'two.env', 'three.env', 'four.env', './five.env'],
  )
})

t.test('values as Compose may quote them', async (t) => {
  const values = envFileValues(
    '# comment\nexport A=plain\nB="quoted value"\nDB_PASSWORD hunter2!x\nC=\n',
  )
  for (const value of ['plain', 'quoted value', '"quoted value"', 'hunter2!x'])
    t.ok(values.includes(value), value)
  t.notOk(values.includes('DB_PASSWORD'), 'the name of a line without `=` is kept')
})

t.test('scrubbing reads .env and named env files inside the tree only', async (t) => {
  const root = tempDir('docker-cd-env-scrub-')
  const dir = join(root, 'stack')
  mkdirSync(dir)
  writeFileSync(join(root, 'outside.env'), 'OUTSIDE=outside-value\n')
  writeFileSync(
    join(dir, 'compose.yaml'),
    'services:\n  a:\n    image: x\n    env_file: [app.env, ../outside.env]\n',
  )
  writeFileSync(join(dir, '.env'), `DB_PASSWORD ${PASSWORD}\nPORT=80\n`)
  writeFileSync(join(dir, 'app.env'), 'API_KEY="s3cr3t-api-key"\n')
  const text = `variable name "DB_PASSWORD ${PASSWORD}"; key s3cr3t-api-key; port 80; outside-value`
  t.equal(
    scrubEnvFileValues(dir, text),
    'variable name "DB_PASSWORD [REDACTED]"; key [REDACTED]; port 80; outside-value',
    'short values stay (they are everywhere, and no secret); nothing outside the stack is read',
  )
})

t.test('a real Compose refusal quotes .env; the error does not', async (t) => {
  const dir = tempDir('docker-cd-env-compose-')
  writeFileSync(join(dir, 'compose.yaml'), 'services:\n  a:\n    image: busybox\n')
  writeFileSync(join(dir, '.env'), `DB_PASSWORD ${PASSWORD}\n`)
  const compose = createCompose({})
  const error = await compose.model(dir).then(
    () => undefined,
    (error: Error) => error,
  )
  t.ok(error, 'Compose refuses the .env')
  t.match(error?.message, /unexpected character "!" in variable name "DB_PASSWORD \[REDACTED\]"/)
  t.notMatch(error?.message, 'hunter2')
})

t.test(
  'SYNC_MODE=detect with API_TOKEN: the reason is scrubbed everywhere, and not on /',
  { skip: hostUnavailable() ?? false },
  async (t) => {
    const server = await startGitServer({ token: 'tok-env-scrub-2a' })
    t.teardown(() => server.close())
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(
        'leaky/compose.yaml',
        'services:\n  app:\n    image: busybox\n    env_file: app.env\n',
      )
      .writeFile('leaky/.env', 'TAG=1\n')
      .writeFile('leaky/app.env', `DB_PASSWORD ${PASSWORD}\n`)
      .commitAndPush('a stack whose env file Compose cannot read')
    const app = await build(
      t,
      configFor(server, repo.url, {
        SYNC_MODE: 'detect',
        STACKS_DIR: tempDir('docker-cd-stacks-'),
        API_TOKEN,
      }),
      { maxEventLoopDelayMs: 60_000 },
    )
    await startApp(app)
    const headers = { authorization: `Bearer ${API_TOKEN}` }
    const detail = await waitFor(async () => {
      const body = (await app.inject({ url: '/api/stacks/leaky', headers })).json()
      return /variable name/.test(JSON.stringify(body)) ? body : undefined
    }, "Compose's refusal to become the reason")
    t.match(JSON.stringify(detail), /DB_PASSWORD \[REDACTED\]/)
    t.notMatch(JSON.stringify(detail), 'hunter2', 'not in the detail')
    t.notMatch(JSON.stringify(app.logs), 'hunter2', 'not in any log line')
    const page = await app.inject({ url: '/', headers: { accept: 'text/plain' } })
    t.match(page.body, /leaky/, 'the stack is listed on /')
    t.notMatch(page.body, /variable name|REDACTED|hunter2/, 'without its reason')
    t.match(page.body, /reasons: \/api\/stacks\/\{name\}/)
  },
)
