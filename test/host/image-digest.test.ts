import t from 'tap'
import { repoDigestOf, repoDigestsIn } from '../../services/host/index.js'
import { deployedApp } from '../helpers/build.js'
import { docker, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { pushImage, registryUnavailable, startRegistry } from '../helpers/registry.js'

// Issue 29, "record what runs": a stack whose image comes from a registry
// (Debian's docker-registry on loopback) is deployed by docker-cd, which
// pulls it; the stack's containers in the API carry the image id the
// engine runs and the digest the pull recorded, and the stack page shows
// the short digest beside the tag.

const unavailable = registryUnavailable()
const pid = process.pid

t.test('the digest in a repository, from RepoDigests', async (t) => {
  const digests = [
    '127.0.0.1:5000/app@sha256:aaa',
    'ghcr.io/org/app@sha256:bbb',
    'nginx@sha256:ccc',
  ]
  t.equal(repoDigestOf('127.0.0.1:5000/app:stable', digests), 'sha256:aaa')
  t.equal(repoDigestOf('ghcr.io/org/app', digests), 'sha256:bbb')
  t.equal(
    repoDigestOf('docker.io/library/nginx:1.27', digests),
    'sha256:ccc',
    'Docker Hub names normalised',
  )
  t.equal(repoDigestOf('nginx:1.27', digests), 'sha256:ccc')
  t.equal(repoDigestOf('other/app:1', digests), undefined, 'another repository: none')
  t.equal(
    repoDigestOf('sha256:1234', ['x/app@sha256:ddd']),
    'sha256:ddd',
    'an image id (the tag moved): its only digest',
  )
  t.equal(repoDigestOf('sha256:1234', digests), undefined, 'an image id with several: none guessed')
  t.equal(repoDigestOf('app:1', []), undefined, 'built here: none')
  t.equal(
    repoDigestOf('index.docker.io/library/nginx:1.27', digests),
    'sha256:ccc',
    'index.docker.io is Docker Hub too',
  )
  t.same(
    repoDigestsIn('127.0.0.1:5000/app:v1', [
      '127.0.0.1:5000/app@sha256:aaa',
      '127.0.0.1:5000/other@sha256:eee',
      '127.0.0.1:5000/app@sha256:fff',
    ]),
    ['sha256:aaa', 'sha256:fff'],
    'a tag and a manifest list over it: both digests of the repository',
  )
})

t.test(
  'a stack pulled from a registry: image id and digest in the API and on the page',
  { skip: unavailable ?? false },
  async (t) => {
    const registry = await startRegistry()
    t.teardown(() => registry.close())
    const server = await startGitServer({ token: `tok-digest-${pid}` })
    t.teardown(() => server.close())
    const reference = `${registry.host}/digest-${pid}:stable`
    const pushed = await pushImage(reference, `digest-${pid}`)
    docker('image', 'rm', reference) // the deploy pulls it
    t.teardown(() => {
      try {
        docker('image', 'rm', reference)
      } catch {
        // not there
      }
    })

    const stack = `digest-${pid}`
    t.teardown(() => removeProject(stack))
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(
        `${stack}/compose.yaml`,
        `services:\n  app:\n    image: ${reference}\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n`,
      )
      .commitAndPush('a stack from the registry')
    const { app, deployed: detail } = await deployedApp(t, server, repo.url, stack)
    t.equal(detail.status, 'synced')
    const container = detail.containers?.[0]
    const runningImage = docker('inspect', '--format', '{{.Image}}', container.name)
    t.match(container, { service: 'app', image: reference, imageId: runningImage, digest: pushed })
    t.match(pushed, /^sha256:[0-9a-f]{64}$/)
    const page = (await app.inject(`/ui/stacks/${stack}`)).body
    t.match(page, `<code class="meta" title="${pushed}">${pushed?.slice(7, 19)}</code>`)
  },
)
