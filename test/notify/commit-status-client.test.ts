import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import {
  type CommitStatusProblem,
  type CommitStatusProvider,
  commitStatusTarget,
  createCommitStatusClient,
} from '../../services/notify/commit-status/index.js'

// The client against a real HTTP server on loopback that plays each Git host
// and checks every request the way that host would: GitHub's against the
// OpenAPI description GitHub publishes (@octokit/openapi), the others against
// their documented request shapes. A request the host would refuse gets the
// host's 4xx, so a passing flow means the host would have taken it.

const TOKEN = 'test-token-7f3a9c21e5'
const SHA = '0123456789abcdef0123456789abcdef01234567'

// --- GitHub's published OpenAPI description -------------------------------

type Schema = Record<string, unknown>
const require = createRequire(import.meta.url)
const openapi = JSON.parse(
  readFileSync(require.resolve('@octokit/openapi/generated/api.github.com.json'), 'utf8'),
) as {
  paths: Record<string, Record<string, Schema>>
  components: { parameters: Record<string, Schema> }
}
const GITHUB_PATH = '/repos/{owner}/{repo}/statuses/{sha}'
const githubOperation = openapi.paths[GITHUB_PATH]?.post as {
  operationId: string
  parameters: Schema[]
  requestBody: { required: boolean; content: Record<string, { schema: Schema }> }
}
const githubBodySchema = githubOperation.requestBody.content['application/json']?.schema as Schema
const githubPathParameters = githubOperation.parameters
  .map((parameter) => {
    const ref = parameter.$ref as string | undefined
    return ref ? openapi.components.parameters[ref.split('/').pop() as string] : parameter
  })
  .filter((parameter): parameter is Schema => parameter?.in === 'path')

// A JSON-schema check for the keywords this operation uses; any other keyword
// fails loudly, so a change in GitHub's document cannot pass unchecked.
const ANNOTATIONS = new Set(['description', 'default', 'example', 'examples', 'title', 'format'])
const VALIDATED = new Set([
  'type',
  'properties',
  'required',
  'enum',
  'nullable',
  'additionalProperties',
  'maxLength',
  'minLength',
])
function schemaErrors(schema: Schema, value: unknown, at = 'body'): string[] {
  for (const keyword of Object.keys(schema)) {
    if (!ANNOTATIONS.has(keyword) && !VALIDATED.has(keyword)) {
      throw new Error(`the test's validator does not know the keyword ${keyword} (at ${at})`)
    }
  }
  if (value === null) return schema.nullable === true ? [] : [`${at}: must not be null`]
  const errors: string[] = []
  const type = schema.type as string | undefined
  const actual = Array.isArray(value) ? 'array' : typeof value
  if (type === 'integer' ? !Number.isInteger(value) : type !== undefined && actual !== type) {
    return [`${at}: must be ${type}, is ${actual}`]
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`)
  }
  if (typeof value === 'string') {
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) {
      errors.push(`${at}: longer than ${schema.maxLength}`)
    }
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) {
      errors.push(`${at}: shorter than ${schema.minLength}`)
    }
  }
  if (type === 'object' && value && typeof value === 'object') {
    const object = value as Record<string, unknown>
    const properties = (schema.properties ?? {}) as Record<string, Schema>
    for (const name of (schema.required ?? []) as string[]) {
      if (!(name in object)) errors.push(`${at}.${name}: is required`)
    }
    for (const [name, item] of Object.entries(object)) {
      const property = properties[name]
      if (property) errors.push(...schemaErrors(property, item, `${at}.${name}`))
      else if (schema.additionalProperties === false) errors.push(`${at}.${name}: not allowed`)
      // The operation allows other properties; docker-cd sends none it does not document.
      else errors.push(`${at}.${name}: not in GitHub's schema`)
    }
  }
  return errors
}

// --- The documented shapes of the other hosts ------------------------------

type Checked = { status: number; errors: string[] }
type Received = { method: string; url: string; headers: IncomingMessage['headers']; body: string }

function jsonBody(received: Received, errors: string[]): Record<string, unknown> {
  if (!String(received.headers['content-type']).startsWith('application/json')) {
    errors.push('content-type: not application/json')
  }
  try {
    const body = JSON.parse(received.body)
    if (body && typeof body === 'object' && !Array.isArray(body)) return body
  } catch {}
  errors.push('body: not a JSON object')
  return {}
}

function fieldTypes(body: Record<string, unknown>, allowed: string[], errors: string[]) {
  for (const [name, value] of Object.entries(body)) {
    if (!allowed.includes(name)) errors.push(`body.${name}: not a documented field`)
    else if (typeof value !== 'string') errors.push(`body.${name}: must be a string`)
  }
}

const HOSTS: Record<CommitStatusProvider, { prefix: string; check(r: Received): Checked }> = {
  github: {
    prefix: '/api/v3',
    check(received) {
      const errors: string[] = []
      const names = githubPathParameters.map((parameter) => parameter.name as string)
      const pattern = new RegExp(
        `^/api/v3${GITHUB_PATH.replace(/\{(\w+)\}/g, (_, name) => `(?<${name}>[^/]+)`)}$`,
      )
      const match = pattern.exec(received.url)
      if (received.method !== 'POST' || !match) return { status: 404, errors: ['no such route'] }
      for (const name of names) if (!match.groups?.[name]) errors.push(`path: ${name} is missing`)
      if (received.headers.accept !== 'application/vnd.github+json') errors.push('accept header')
      if (!/^\d{4}-\d{2}-\d{2}$/.test(String(received.headers['x-github-api-version']))) {
        errors.push('x-github-api-version header')
      }
      if (!received.headers['user-agent']) errors.push('user-agent header (GitHub requires one)')
      if (received.headers.authorization !== `Bearer ${TOKEN}`) {
        return { status: 401, errors: ['Bad credentials'] }
      }
      const body = jsonBody(received, errors)
      errors.push(...schemaErrors(githubBodySchema, body))
      // Not in the schema, but GitHub refuses it (422): docs.github.com create-a-commit-status.
      if (typeof body.description === 'string' && body.description.length > 140) {
        errors.push('description is too long (maximum is 140 characters)')
      }
      return { status: errors.length ? 422 : 201, errors }
    },
  },
  gitlab: {
    prefix: '/api/v4',
    check(received) {
      const errors: string[] = []
      // :id is a number or the URL-encoded path: one segment, slashes as %2F.
      const match = /^\/api\/v4\/projects\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(received.url)
      if (received.method !== 'POST' || !match) return { status: 404, errors: ['404 Not Found'] }
      if (decodeURIComponent(match[1] as string) !== 'group/sub/project') {
        return { status: 404, errors: ['404 Project Not Found'] }
      }
      if (received.headers['private-token'] !== TOKEN) {
        return { status: 401, errors: ['401 Unauthorized'] }
      }
      const body = jsonBody(received, errors)
      fieldTypes(
        body,
        ['state', 'ref', 'name', 'context', 'target_url', 'description', 'coverage', 'pipeline_id'],
        errors,
      )
      if (!['pending', 'running', 'success', 'failed', 'canceled'].includes(body.state as string)) {
        errors.push('state does not have a valid value')
      }
      if (typeof body.target_url === 'string' && body.target_url.length > 255) {
        errors.push('target_url is too long (maximum is 255 characters)')
      }
      return { status: errors.length ? 400 : 201, errors }
    },
  },
  gitea: {
    prefix: '/api/v1',
    check(received) {
      const errors: string[] = []
      const match = /^\/api\/v1\/repos\/([^/]+)\/([^/]+)\/statuses\/([^/]+)$/.exec(received.url)
      if (received.method !== 'POST' || !match) return { status: 404, errors: ['not found'] }
      if (received.headers.authorization !== `token ${TOKEN}`) {
        return { status: 401, errors: ['token is required'] }
      }
      const body = jsonBody(received, errors)
      // CreateStatusOption in Gitea's swagger: context, description, state, target_url.
      fieldTypes(body, ['context', 'description', 'state', 'target_url'], errors)
      if (!['pending', 'success', 'error', 'failure', 'warning'].includes(body.state as string)) {
        errors.push('state: not a CommitStatusState')
      }
      return { status: errors.length ? 422 : 201, errors }
    },
  },
  bitbucket: {
    prefix: '/2.0',
    check(received) {
      const errors: string[] = []
      const match =
        /^\/2\.0\/repositories\/([^/]+)\/([^/]+)\/commit\/([0-9a-f]{40})\/statuses\/build$/.exec(
          received.url,
        )
      if (received.method !== 'POST' || !match) return { status: 404, errors: ['not found'] }
      const auth = String(received.headers.authorization)
      if (auth !== `Bearer ${TOKEN}` && !auth.startsWith('Basic ')) {
        return { status: 401, errors: ['Unauthorized'] }
      }
      const body = jsonBody(received, errors)
      fieldTypes(body, ['key', 'state', 'name', 'description', 'url', 'refname'], errors)
      for (const required of ['key', 'state', 'url']) {
        if (!body[required]) errors.push(`${required}: required`)
      }
      if (typeof body.key === 'string' && body.key.length > 40) errors.push('key: over 40')
      if (!['INPROGRESS', 'SUCCESSFUL', 'FAILED', 'STOPPED'].includes(body.state as string)) {
        errors.push('state: not a valid state')
      }
      return { status: errors.length ? 400 : 201, errors }
    },
  },
}

// --- The server --------------------------------------------------------

type Script = (
  received: Received,
) => 'check' | 'hang' | { delayMs: number } | { status: number; body: unknown }

async function fakeHost(t: Test, provider: CommitStatusProvider) {
  const received: (Received & Checked)[] = []
  let script: Script = () => 'check'
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const request: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      const action = script(request)
      if (action === 'hang') {
        received.push({ ...request, status: 0, errors: [] })
        return
      }
      const scripted = typeof action === 'object' && 'status' in action ? action : undefined
      const answer = () => {
        const checked = scripted
          ? { status: scripted.status, errors: [] }
          : HOSTS[provider].check(request)
        received.push({ ...request, ...checked })
        res.writeHead(checked.status, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify(
            scripted
              ? scripted.body
              : checked.errors.length
                ? { message: checked.errors.join('; ') }
                : { id: received.length },
          ),
        )
      }
      if (typeof action === 'object' && 'delayMs' in action) setTimeout(answer, action.delayMs)
      else answer()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  const { port } = server.address() as AddressInfo
  return {
    apiUrl: `http://127.0.0.1:${port}${HOSTS[provider].prefix}`,
    received,
    setScript(next: Script) {
      script = next
    },
  }
}

const REPO_URLS: Record<CommitStatusProvider, string> = {
  github: 'git@github.com:org/repo.git',
  gitlab: 'https://gitlab.com/group/sub/project.git',
  gitea: 'ssh://git@git.example.com:2222/org/deploy.git',
  bitbucket: 'git@bitbucket.org:team/deploy.git',
}

async function setup(
  t: Test,
  provider: CommitStatusProvider,
  options: { timeoutMs?: number; token?: string } = {},
) {
  const host = await fakeHost(t, provider)
  const target = commitStatusTarget({ repoUrl: REPO_URLS[provider], provider, apiUrl: host.apiUrl })
  if ('problem' in target) throw new Error(target.problem)
  const problems: CommitStatusProblem[] = []
  const client = createCommitStatusClient({
    target,
    token: options.token ?? TOKEN,
    instance: 'prod',
    timeoutMs: options.timeoutMs ?? 2000,
    retryDelayMs: 20,
    onRejected: (problem) => problems.push(problem),
  })
  return { ...host, client, problems }
}

// --- The tests -----------------------------------------------------------

t.test("GitHub's OpenAPI operation is the one the builder targets", async (t) => {
  t.equal(githubOperation.operationId, 'repos/create-commit-status')
  t.same(
    githubPathParameters.map((parameter) => parameter.name),
    ['owner', 'repo', 'sha'],
  )
  t.same(githubBodySchema.required, ['state'])
  t.same(((githubBodySchema.properties as Record<string, Schema>).state as Schema).enum, [
    'error',
    'failure',
    'pending',
    'success',
  ])
  t.match(schemaErrors(githubBodySchema, { state: 'done', extra: 'x' }), [
    /body.state: "done" is not one of/,
    /body.extra: not in GitHub's schema/,
  ])
  t.same(schemaErrors(githubBodySchema, {}), ['body.state: is required'])
})

for (const provider of ['github', 'gitlab', 'gitea', 'bitbucket'] as const) {
  t.test(`${provider}: pending then success, each accepted by the host`, async (t) => {
    const { client, received, problems } = await setup(t, provider)
    const pending = await client.report('web', SHA, 'pending', 'deploying web')
    const success = await client.report(
      'web',
      SHA,
      'success',
      'deployed web',
      'https://cd.example.com/stacks/web',
    )
    t.same(pending, { ok: true, status: 201 })
    t.same(success, { ok: true, status: 201 })
    t.same(
      received.map((r) => r.errors),
      [[], []],
      'the host found nothing to refuse',
    )
    t.same(problems, [])
    const failure = await client.report(
      'web',
      SHA,
      'failure',
      `health check failed: ${'x'.repeat(400)}`,
    )
    t.same(failure, { ok: true, status: 201 }, 'a long reason is cut to fit, not refused')
  })
}

t.test('a slow pending never lands after the success that followed it', async (t) => {
  const { client, received, setScript } = await setup(t, 'github')
  // The host answers the first request late; the second must wait its turn.
  let calls = 0
  setScript(() => (++calls === 1 ? { delayMs: 150 } : 'check'))
  const [pending, success] = await Promise.all([
    client.report('web', SHA, 'pending', 'deploying'),
    client.report('web', SHA, 'success', 'deployed'),
  ])
  t.same([pending.ok, success.ok], [true, true])
  t.same(
    received.map((r) => JSON.parse(r.body).state),
    ['pending', 'success'],
    'recorded in the order sent, the late answer first',
  )
})

t.test('a 422 is reported once per stack and reason, never retried', async (t) => {
  const { client, received, problems, setScript } = await setup(t, 'github')
  setScript(() => ({
    status: 422,
    body: {
      message: 'Validation Failed',
      errors: [{ resource: 'Status', code: 'custom', field: 'state' }],
      documentation_url: 'https://docs.github.com/rest/commits/statuses#create-a-commit-status',
    },
  }))
  const first = await client.report('web', SHA, 'failure', 'deploy failed')
  const second = await client.report('web', SHA, 'failure', 'deploy failed')
  await client.report('api', SHA, 'failure', 'deploy failed')
  t.equal(received.length, 3, 'one request per report: no retry')
  t.match(first, {
    ok: false,
    problem: { kind: 'rejected', status: 422, reason: 'GitHub answered 422: Validation Failed' },
  })
  t.match(second, { ok: false })
  t.same(
    problems.map((p) => `${p.stack}: ${p.reason}`),
    ['web: GitHub answered 422: Validation Failed', 'api: GitHub answered 422: Validation Failed'],
    'told once for web, once for api',
  )
  // After a success the stack is clean: the next refusal is news again.
  setScript(() => 'check')
  t.match(await client.report('web', SHA, 'success', 'ok'), { ok: true })
  setScript(() => ({ status: 422, body: { message: 'Validation Failed' } }))
  await client.report('web', SHA, 'failure', 'deploy failed')
  t.equal(problems.length, 3)
})

t.test('a 401 is reported once, and the token is in no message', async (t) => {
  const { client, received, problems, setScript } = await setup(t, 'gitea')
  // A host that echoes what it was sent must not carry the token into the log.
  setScript((request) => ({
    status: 401,
    body: { message: `bad token: ${String(request.headers.authorization)}` },
  }))
  const result = await client.report('web', SHA, 'pending', 'deploying')
  await client.report('web', SHA, 'success', 'deployed')
  t.equal(received.length, 2, 'no retry on 401')
  t.equal(problems.length, 1)
  t.match(result, { ok: false, problem: { kind: 'rejected', status: 401 } })
  t.match(problems[0]?.reason, /^Gitea answered 401: bad token: token \[REDACTED\]$/)
  t.notOk(JSON.stringify({ result, problems }).includes(TOKEN), 'no token anywhere')
})

t.test('a Bitbucket user:app-password token echoed back is scrubbed in every form', async (t) => {
  // Bitbucket's Basic credential travels as base64 of user:secret; a host (or
  // a proxy in front of it) that echoes the header, or names the password
  // alone, must not carry either into the log.
  const password = 'ATBBapppassword7c41e9'
  const token = `ci-bot:${password}`
  const { client, problems, setScript } = await setup(t, 'bitbucket', { token })
  setScript((request) => ({
    status: 401,
    body: {
      type: 'error',
      error: {
        message: `refused ${String(request.headers.authorization)}; app password ${password} revoked`,
      },
    },
  }))
  const result = await client.report('web', SHA, 'pending', 'deploying')
  t.match(result, { ok: false, problem: { kind: 'rejected', status: 401 } })
  const basic = Buffer.from(token).toString('base64')
  const told = JSON.stringify({ result, problems })
  for (const secret of [token, password, basic]) t.notOk(told.includes(secret), 'no credential')
  t.match(
    problems[0]?.reason,
    /^Bitbucket answered 401: refused Basic \[REDACTED\]; app password \[REDACTED\] revoked$/,
  )
})

t.test('a token echoed where the message is cut leaves no part of it behind', async (t) => {
  const { client, setScript } = await setup(t, 'github')
  // The token starts at character 190: the one-line message is cut at 200.
  setScript(() => ({ status: 401, body: { message: `${'x'.repeat(190)}${TOKEN}` } }))
  const result = await client.report('web', SHA, 'pending', 'deploying')
  t.match(result, { ok: false, problem: { kind: 'rejected', status: 401 } })
  t.notOk(JSON.stringify(result).includes(TOKEN.slice(0, 8)), 'not even its start')
})

t.test('an endless error body is not read to the end: the 4xx is told as such', async (t) => {
  // A host (or a proxy) answering 400 with a body that never ends used to be
  // read whole into memory until the timeout, then told as "no answer".
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'text/plain' })
      const chunk = `${'no! '.repeat(4095)}\n`
      let written = 0
      const more = () => {
        // 8 MiB, then the body hangs open: only a reader that stops early gets an answer.
        while (written < 512 && res.write(chunk)) written++
        if (written < 512) res.once('drain', more)
      }
      more()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as AddressInfo
  const target = commitStatusTarget({
    repoUrl: REPO_URLS.github,
    apiUrl: `http://127.0.0.1:${port}/api/v3`,
  })
  if ('problem' in target) throw new Error(target.problem)
  const client = createCommitStatusClient({
    target,
    token: TOKEN,
    instance: 'prod',
    timeoutMs: 1000,
    retryDelayMs: 10,
    onRejected: () => {},
  })
  const result = await client.report('web', SHA, 'pending', 'deploying')
  t.match(result, {
    ok: false,
    problem: { kind: 'rejected', status: 400, reason: /^GitHub answered 400: no! no! / },
  })
  t.ok(!result.ok && result.problem.reason.length < 300, 'the reason is a line, not the body')
})

t.test('a 500 is retried once: 500 then 201 is one status', async (t) => {
  const { client, received, problems, setScript } = await setup(t, 'gitlab')
  let calls = 0
  setScript(() =>
    ++calls === 1 ? { status: 500, body: { message: '500 Internal Server Error' } } : 'check',
  )
  const result = await client.report('web', SHA, 'pending', 'deploying')
  t.same(result, { ok: true, status: 201 })
  t.equal(received.length, 2)
  t.equal(received[0]?.body, received[1]?.body, 'the same status, sent again')
  t.same(problems, [])
})

t.test('a host that fails twice is given up on and told once', async (t) => {
  const { client, received, problems, setScript } = await setup(t, 'bitbucket')
  setScript(() => ({
    status: 503,
    body: { type: 'error', error: { message: 'Service unavailable' } },
  }))
  const result = await client.report('web', SHA, 'pending', 'deploying')
  await client.report('web', SHA, 'pending', 'deploying')
  t.equal(received.length, 4, 'two tries per report, never more')
  t.match(result, {
    ok: false,
    problem: {
      kind: 'unreachable',
      status: 503,
      reason: 'Bitbucket answered 503: Service unavailable',
    },
  })
  t.equal(problems.length, 1)
})

t.test('a host that never answers times out without holding anyone up', async (t) => {
  const { client, received, problems, setScript } = await setup(t, 'github', { timeoutMs: 200 })
  setScript(() => 'hang')
  const report = client.report('web', SHA, 'pending', 'deploying')
  let settled = false
  void report.then(() => {
    settled = true
  })
  // Another stack is not queued behind the hung one.
  setScript((request) => (request.body.includes('docker-cd/prod/api') ? 'check' : 'hang'))
  const other = await client.report('api', SHA, 'pending', 'deploying')
  t.same(other, { ok: true, status: 201 })
  t.notOk(settled, 'the other stack got through while this one still waited on the hung host')
  const result = await report
  t.match(result, {
    ok: false,
    problem: { kind: 'unreachable', reason: 'GitHub gave no answer within 200 ms' },
  })
  t.equal(received.filter((r) => r.body.includes('docker-cd/prod/web')).length, 2, 'one retry')
  t.equal(problems.length, 1)
  t.notOk(JSON.stringify(problems).includes(TOKEN))
})

t.test('nobody listening: reported in words, no token, no throw', async (t) => {
  const target = commitStatusTarget({
    repoUrl: REPO_URLS.github,
    apiUrl: 'http://127.0.0.1:9/api/v3',
  })
  if ('problem' in target) throw new Error(target.problem)
  const problems: CommitStatusProblem[] = []
  const client = createCommitStatusClient({
    target,
    token: TOKEN,
    instance: 'prod',
    timeoutMs: 1000,
    retryDelayMs: 10,
    onRejected: (problem) => {
      problems.push(problem)
      throw new Error('a broken logger')
    },
  })
  const result = await client.report('web', SHA, 'pending', 'deploying')
  t.match(result, {
    ok: false,
    problem: { kind: 'unreachable', reason: /^GitHub could not be reached: ECONNREFUSED/ },
  })
  t.equal(problems.length, 1, 'told, and the callback throwing changed nothing')
  t.notOk(JSON.stringify(result).includes(TOKEN))
})

t.test('the fake hosts refuse what the real ones would', async (t) => {
  const request = (url: string, headers: Record<string, string>, body: unknown): Received => ({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  const github = {
    accept: 'application/vnd.github+json',
    authorization: `Bearer ${TOKEN}`,
    'user-agent': 'x',
    'x-github-api-version': '2022-11-28',
  }
  t.match(
    HOSTS.github.check(
      request(`/api/v3/repos/o/r/statuses/${SHA}`, github, {
        state: 'success',
        description: 'd'.repeat(141),
      }),
    ),
    { status: 422, errors: ['description is too long (maximum is 140 characters)'] },
  )
  t.match(
    HOSTS.github.check(
      request(`/api/v3/repos/o/r/statuses/${SHA}`, { ...github, authorization: 'token x' }, {}),
    ),
    { status: 401 },
  )
  t.match(
    HOSTS.gitlab.check(
      request(
        `/api/v4/projects/group%2Fsub%2Fproject/statuses/${SHA}`,
        { 'private-token': TOKEN },
        { state: 'failure' },
      ),
    ),
    { status: 400, errors: ['state does not have a valid value'] },
  )
  t.match(
    HOSTS.gitlab.check(
      request(
        `/api/v4/projects/group/sub/project/statuses/${SHA}`,
        { 'private-token': TOKEN },
        { state: 'failed' },
      ),
    ),
    { status: 404 },
    'an unencoded project path is another route',
  )
  t.match(
    HOSTS.gitea.check(
      request(
        `/api/v1/repos/o/r/statuses/${SHA}`,
        { authorization: `token ${TOKEN}` },
        { state: 'running', name: 'x' },
      ),
    ),
    {
      status: 422,
      errors: ['body.name: not a documented field', 'state: not a CommitStatusState'],
    },
  )
  t.match(
    HOSTS.bitbucket.check(
      request(
        `/2.0/repositories/w/r/commit/${SHA}/statuses/build`,
        { authorization: `Bearer ${TOKEN}` },
        {
          key: 'k'.repeat(41),
          state: 'PENDING',
        },
      ),
    ),
    { status: 400, errors: ['url: required', 'key: over 40', 'state: not a valid state'] },
  )
})
