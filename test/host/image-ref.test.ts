import t from 'tap'
import { defaultScheme, parseChallenge, parseImageRef } from '../../services/host/index.js'

// Image references read as the Docker CLI reads them (distribution's
// reference grammar and its Docker Hub normalisation), so the registry
// asked about a tag is the one the engine pulls it from.

t.test('normalised as the Docker CLI does', async (t) => {
  const cases: [string, object][] = [
    [
      'nginx',
      {
        registry: 'docker.io',
        apiHost: 'registry-1.docker.io',
        repository: 'library/nginx',
        tag: 'latest',
        canonical: 'docker.io/library/nginx:latest',
      },
    ],
    ['nginx:1.27', { repository: 'library/nginx', tag: '1.27' }],
    [
      'grafana/grafana:11.0.0',
      { registry: 'docker.io', repository: 'grafana/grafana', tag: '11.0.0' },
    ],
    ['docker.io/nginx', { registry: 'docker.io', repository: 'library/nginx' }],
    [
      'index.docker.io/library/nginx:stable',
      { registry: 'docker.io', repository: 'library/nginx', tag: 'stable' },
    ],
    [
      'ghcr.io/org/app:stable',
      { registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'org/app', tag: 'stable' },
    ],
    ['127.0.0.1:5000/app', { registry: '127.0.0.1:5000', repository: 'app', tag: 'latest' }],
    ['localhost/team/app:v2', { registry: 'localhost', repository: 'team/app', tag: 'v2' }],
    [
      'registry.example.com:8443/a/b/c:1',
      { registry: 'registry.example.com:8443', repository: 'a/b/c', tag: '1' },
    ],
    [
      `nginx@sha256:${'a'.repeat(64)}`,
      { repository: 'library/nginx', digest: `sha256:${'a'.repeat(64)}` },
    ],
    [`nginx:1.27@sha256:${'b'.repeat(64)}`, { tag: '1.27', digest: `sha256:${'b'.repeat(64)}` }],
  ]
  for (const [text, expected] of cases) t.match(parseImageRef(text), expected, text)
  t.notOk(
    'tag' in (parseImageRef(`nginx@sha256:${'a'.repeat(64)}`) as object),
    'a digest alone: no tag (pinned)',
  )
})

t.test('what is not an image reference is a reason', async (t) => {
  for (const text of [
    '',
    'Nginx',
    'nginx:',
    'nginx:bad tag',
    'nginx@sha256:short',
    'a//b',
    'ghcr.io/',
    'exa_mple.com:5000/app',
  ])
    t.match(parseImageRef(text), { problem: /./ }, JSON.stringify(text))
})

t.test('registry challenges and schemes', async (t) => {
  t.same(
    parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'),
    {
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' },
    },
  )
  t.same(parseChallenge('Basic realm="Registry Realm"'), {
    scheme: 'basic',
    params: { realm: 'Registry Realm' },
  })
  t.equal(parseChallenge(undefined), undefined)
  t.equal(defaultScheme('127.0.0.1:5000'), 'http', 'loopback: plain HTTP, as the engine allows')
  t.equal(defaultScheme('localhost:5000'), 'http')
  t.equal(defaultScheme('[::1]:5000'), 'http')
  t.equal(defaultScheme('LOCALHOST:5000'), 'http', 'host names are not case-sensitive')
  t.equal(defaultScheme('Localhost'), 'http')
  t.equal(defaultScheme('ghcr.io'), 'https')
  t.equal(defaultScheme('registry-1.docker.io'), 'https')
})
