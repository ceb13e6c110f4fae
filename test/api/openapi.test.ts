import { Validator } from '@seriousme/openapi-schema-validator'
import t from 'tap'
import { build, configFor, startApp } from '../helpers/build.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'

// The OpenAPI document is generated from the route schemas and must be a
// valid OpenAPI 3 document describing every status code each route sends.

const server = await startGitServer({ token: 'tok-openapi' })
t.teardown(() => server.close())
const repo = createFixtureRepo(server, { stacks: 1 })
const app = await build(t, configFor(server, repo.url))
await startApp(app)

t.test('the document validates and covers the API', async (t) => {
  const res = await app.inject('/openapi.json')
  t.equal(res.statusCode, 200)
  const doc = res.json()
  const validator = new Validator()
  const result = await validator.validate(doc)
  t.same(result.errors, undefined, 'no validation errors')
  t.ok(result.valid, 'valid OpenAPI document')
  t.equal(doc.openapi, '3.0.3')

  const expected: Record<string, Record<string, string[]>> = {
    '/api/webhook': { post: ['200', '400', '401', '413', '415', '429', '500'] },
    '/api/refresh': { post: ['200', '400', '413', '429', '500', '503'] },
    '/api/refresh-status': { get: ['200', '500'] },
    '/api/stacks': { get: ['200', '500'] },
    '/api/stacks/{name}': { get: ['200', '400', '404', '500'] },
    '/api/stacks/{name}/compose': { get: ['200', '304', '400', '403', '404', '500'] },
    '/api/stacks/{name}/archive': {
      get: ['200', '304', '400', '403', '404', '429', '500', '503'],
    },
    '/api/events': { get: ['200', '429', '503'] },
    '/readyz': { get: ['200', '503'] },
    '/metrics': { get: ['200'] },
    '/': { get: ['200', '302'] },
    '/api/host': { get: ['200', '500'] },
    '/ui': { get: ['200', '401'] },
  }
  for (const [path, methods] of Object.entries(expected)) {
    for (const [method, codes] of Object.entries(methods)) {
      t.same(
        Object.keys(doc.paths[path]?.[method]?.responses ?? {}).sort(),
        codes,
        `${method} ${path}`,
      )
    }
  }
  t.ok(doc.paths['/healthz']?.get?.responses?.['200'], 'liveness is documented')
  t.ok(doc.components.schemas.Stack, 'named schemas become components')
  t.ok(doc.components.schemas.RefreshStatus?.example, 'with examples')
  t.same(
    Object.keys(doc.components.schemas).filter((name) => name.endsWith('Input')),
    [],
    'no duplicated input/output components',
  )
  const refs = JSON.stringify(doc).match(/#\/components\/schemas\/\w+/g) ?? []
  t.same(
    Object.keys(doc.components.schemas).sort(),
    [...new Set(refs.map((ref) => ref.split('/').pop()))].sort(),
    'every component is referenced and every reference resolves',
  )
  const events = doc.paths['/api/events'].get.responses['200'].content
  t.same(Object.keys(events), ['text/event-stream'], 'the feed is documented as an event stream')
  for (const name of ['RefreshEvent', 'StackStatusEvent', 'ResetEvent', 'StackDetail'])
    t.ok(doc.components.schemas[name], `${name} is a documented component`)
  t.ok(doc.paths['/api/stacks/{name}/archive'].get.responses['200'].content['application/gzip'])
  t.ok(doc.paths['/api/stacks/{name}/compose'].get.responses['200'].content['application/yaml'])
  const stacks = doc.paths['/api/stacks'].get.responses['200'].content['application/json'].schema
  t.ok(JSON.stringify(stacks).includes('Stack'), 'stacks response references the Stack schema')
})

t.test('the docs UI is served, its files on demand', async (t) => {
  for (const url of ['/docs', '/docs/']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /text\/html/)
    t.match(res.body, /<script src="\/docs\/init.js">/)
  }
  // Its own file: the Content-Security-Policy runs no inline script.
  const init = await app.inject('/docs/init.js')
  t.match(init.headers['content-type'], /javascript/)
  t.match(init.body, /SwaggerUIBundle\(\{\s*url: '\/openapi.json'/)
  const bundle = await app.inject('/docs/static/swagger-ui-bundle.js')
  t.equal(bundle.statusCode, 200)
  t.match(bundle.headers['content-type'], /javascript/)
  t.ok(bundle.rawPayload.length > 100_000, 'the real Swagger UI bundle')
  const css = await app.inject('/docs/static/swagger-ui.css')
  t.match(css.headers['content-type'], /text\/css/)
  const other = await app.inject('/docs/static/..%2Fpackage.json')
  t.equal(other.statusCode, 400, 'only the listed files')
})
