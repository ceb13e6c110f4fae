import { chmodSync, readdirSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { errorSchema } from '../../schemas/api.js'
import { stackDetailSchema, stackListSchema } from '../../schemas/stack.js'
import { listDirectory, pausedDownload, readTarGz } from '../helpers/archive.js'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo, git, sha256 } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// What a consumer reads of one stack, over a real HTTPS Git server: detail,
// Compose bytes, archives, conditional requests and bad names.

const server = await startGitServer({ token: 'tok-consumers-71d2' })
t.teardown(() => server.close())

async function setup(
  t: Test,
  env: Record<string, string> = {},
  options: Parameters<typeof build>[2] = {},
) {
  const repo = createFixtureRepo(server, { stacks: 2, extraFilesPerStack: 2 })
  const config = configFor(server, repo.url, env)
  const app = await build(t, config, options)
  await startApp(app)
  return { repo, app, config }
}

const detail = async (app: Awaited<ReturnType<typeof setup>>['app'], name: string) =>
  stackDetailSchema.parse((await app.inject(`/api/stacks/${name}`)).json())

t.test('detail: treeHash follows any file, composeHash only the Compose file', async (t) => {
  const { repo, app } = await setup(t)
  const first = await detail(app, 'stack-00000')
  const head = repo.head()
  t.same(first, {
    path: 'stack-00000',
    composeFile: 'compose.yaml',
    composeHash: first.composeHash,
    status: 'missing',
    treeHash: git(repo.workDir, 'rev-parse', `${head}:stack-00000`),
    revision: head,
    changedAt: first.changedAt,
    changedRevision: head,
    changedSubject: git(repo.workDir, 'log', '-1', '--format=%s'),
  })
  const listed = stackListSchema.parse((await app.inject('/api/stacks')).json())
  t.equal(listed[0]?.treeHash, first.treeHash, '/api/stacks carries treeHash too')

  repo.writeFile('stack-00000/config-0.env', 'VALUE=changed\n')
  const second = repo.commitAndPush('env only')
  await app.desiredState.refresh('manual').done
  const after = await detail(app, 'stack-00000')
  t.not(after.treeHash, first.treeHash, 'an .env change changes the tree hash')
  t.equal(after.composeHash, first.composeHash, 'and not the Compose hash')
  t.equal(after.treeHash, git(repo.workDir, 'rev-parse', `${second}:stack-00000`))
  t.equal(after.changedRevision, second)
  t.notOk(after.firstLook, 'a change seen happen is no first look')
  t.equal(after.changedSubject, 'env only')
  t.ok(Date.parse(after.changedAt) > Date.parse(first.changedAt))
  const untouched = await detail(app, 'stack-00001')
  t.equal(untouched.changedRevision, head, 'an untouched stack keeps its change stamp')
  t.notOk(untouched.firstLook, 'its commit was found at the first look')
  t.equal(untouched.changedSubject, first.changedSubject)
  t.equal(untouched.revision, second, 'while the snapshot revision moves on')
})

t.test('compose: exact bytes, their SHA-256 is composeHash; ETag and 304', async (t) => {
  const { repo, app } = await setup(t)
  const bytes = Buffer.from('# not ascii: \u00e9\u00e8\r\nservices:\n  a:\n    image: "x"\n')
  repo.writeStack('stack-00000', bytes)
  const head = repo.commitAndPush()
  await app.desiredState.refresh('manual').done
  const res = await app.inject('/api/stacks/stack-00000/compose')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/yaml/)
  t.same(res.rawPayload, bytes)
  const { composeHash } = await detail(app, 'stack-00000')
  t.equal(sha256(res.rawPayload), composeHash)
  t.equal(res.headers.etag, `"${composeHash}"`)
  t.equal(res.headers['x-docker-cd-revision'], head)
  const cached = await app.inject({
    url: '/api/stacks/stack-00000/compose',
    headers: { 'if-none-match': `W/"other", "${composeHash}"` },
  })
  t.equal(cached.statusCode, 304)
  t.equal(cached.body, '')
  const stale = await app.inject({
    url: '/api/stacks/stack-00000/compose',
    headers: { 'if-none-match': '"something-else"' },
  })
  t.equal(stale.statusCode, 200)
})

t.test('archive: the stack directory with modes; no symlinks, no submodules', async (t) => {
  const { repo, app } = await setup(t)
  repo.writeFile('stack-00000/bin/run.sh', '#!/bin/sh\necho hi\n')
  chmodSync(join(repo.workDir, 'stack-00000/bin/run.sh'), 0o755)
  repo.writeFile('stack-00000/conf/nested/deep.conf', 'deep=1\n')
  repo.writeFile(`stack-00000/${'long-name-'.repeat(12)}.txt`, 'a name past 100 bytes\n')
  repo.symlink('stack-00000/link-to-passwd', '/etc/passwd')
  repo.addSubmodule('stack-00000/vendored')
  const head = repo.commitAndPush('a richer stack')
  await app.desiredState.refresh('manual').done

  const res = await app.inject('/api/stacks/stack-00000/archive')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/gzip')
  const treeHash = git(repo.workDir, 'rev-parse', `${head}:stack-00000`)
  t.equal(res.headers.etag, `"${treeHash}"`)
  t.equal(res.headers['x-docker-cd-revision'], head)
  const entries = await readTarGz(res.rawPayload)
  t.same(entries, listDirectory(join(repo.workDir, 'stack-00000')))
  t.ok(entries.some((e) => e.name === 'bin/run.sh' && e.mode === 0o755))
  t.notOk(
    entries.some((e) => e.name.startsWith('link-to-passwd')),
    'no symlink',
  )
  t.notOk(
    entries.some((e) => e.name.startsWith('vendored')),
    'no submodule',
  )

  const again = await app.inject('/api/stacks/stack-00000/archive')
  t.same(again.rawPayload, res.rawPayload, 'the same tree gives the same bytes')
  const cached = await app.inject({
    url: '/api/stacks/stack-00000/archive',
    headers: { 'if-none-match': `"${treeHash}"` },
  })
  t.equal(cached.statusCode, 304)
})

/** A GET over a real connection, path sent exactly as given (no dot-segment clean-up). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { path }, (res) => {
      let body = ''
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('bad names are 400, unknown stacks 404, always JSON', async (t) => {
  const { app } = await setup(t)
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  const bad = [
    '.',
    '..',
    '%2E',
    '%2E%2E',
    'a%2Fb',
    '%2Fetc',
    '%2F..%2F..%2Fetc%2Fpasswd',
    'a%00b',
    'x'.repeat(256),
  ]
  for (const suffix of ['', '/compose', '/archive']) {
    for (const name of bad) {
      const res = await rawGet(base, `/api/stacks/${name}${suffix}`)
      t.equal(res.status, 400, `${name.slice(0, 24)}${suffix}`)
      t.match(errorSchema.parse(JSON.parse(res.body)), { statusCode: 400, error: 'Bad Request' })
    }
    const unknown = await rawGet(base, `/api/stacks/no-such-stack${suffix}`)
    t.equal(unknown.status, 404)
    t.match(errorSchema.parse(JSON.parse(unknown.body)), {
      message: 'no stack "no-such-stack" at the cached revision',
    })
  }
  const empty = await rawGet(base, '/api/stacks//compose')
  t.equal(empty.status, 400, 'an empty name')
  const huge = await rawGet(base, `/api/stacks/${'x'.repeat(2000)}`)
  t.equal(huge.status, 414)
  t.match(errorSchema.parse(JSON.parse(huge.body)), { statusCode: 414 })
  const odd = await rawGet(base, '/api/stacks/stack%2000000')
  t.equal(odd.status, 404, 'an odd but plain name is looked up, not refused')
})

t.test('changedAt survives a restart; a corrupt history file is rebuilt', async (t) => {
  const { repo, config } = await setup(t)
  const first = await build(t, config)
  await startApp(first)
  const before = await detail(first, 'stack-00001')
  await first.close()

  const second = await build(t, config)
  await startApp(second)
  t.same(await detail(second, 'stack-00001'), before, 'same stamps after a restart')
  await second.close()

  for (const file of readdirSync(config.gitCacheDir).filter((f) => f.endsWith('.stacks.json')))
    writeFileSync(join(config.gitCacheDir, file), '{ not json')
  repo.writeStack('stack-00001', 'services: {}\n').commitAndPush()
  const third = await build(t, config)
  await startApp(third)
  const rebuilt = await detail(third, 'stack-00001')
  t.equal(rebuilt.changedRevision, repo.head(), 'first seen again, at the new revision')
  t.ok(
    third.logs.some((line) => line.msg === 'stack history' && line.level === 40),
    'the corrupt file is reported at warn',
  )
})

t.test('a refresh during a download does not change what that download returns', async (t) => {
  // The test's own synchronous work (16 MiB generated, committed and pushed
  // with execFileSync) blocks the app's event loop, in this same process,
  // for over a second on a loaded machine: the load monitor would then
  // rightly answer 503. That is the test's doing, not the app's.
  const { repo, app } = await setup(t, {}, { maxEventLoopDelayMs: 60_000 })
  const hex = (seed: string) => {
    let text = ''
    while (text.length < 16 * 1024 * 1024) text += sha256(`${seed}${text.length}`).repeat(64)
    return text
  }
  const oldData = hex('old')
  repo.writeFile('stack-00000/data.txt', oldData)
  repo.commitAndPush('a big stack')
  await app.desiredState.refresh('manual').done
  const base = await app.listen({ port: 0, host: '127.0.0.1' })

  const download = await pausedDownload(`${base}/api/stacks/stack-00000/archive`)

  // While the client holds the stream open, the stack changes in Git.
  repo.writeFile('stack-00000/data.txt', hex('new')).remove('stack-00000/config-0.env')
  const newHead = repo.commitAndPush('rewrite the big file')
  t.match(await app.desiredState.refresh('manual').done, { status: 'completed', revision: newHead })
  const receivedBeforeSwap = download.received()
  const bytes = await download.finish()
  t.ok(receivedBeforeSwap < bytes.length / 4, 'most of the archive was sent after the swap')
  const entries = await readTarGz(bytes)
  t.equal(entries.find((e) => e.name === 'data.txt')?.content, oldData, 'the old content, whole')
  t.ok(
    entries.some((e) => e.name === 'config-0.env'),
    'with the old file set',
  )

  const fresh = await readTarGz((await app.inject('/api/stacks/stack-00000/archive')).rawPayload)
  t.notOk(
    fresh.some((e) => e.name === 'config-0.env'),
    'a new download has the new tree',
  )
})
