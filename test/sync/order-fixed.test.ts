import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { docker, ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// A stack held by its declared order (a cycle, a name that is no stack, an
// x-docker-cd value of the wrong shape) is deployed once a commit fixes its
// Compose file, on the real engine. The fix changes nothing else a stack
// shows (it is still missing, for the same reason), so nothing but the
// stack's own new check may start it: it must not wait for an unrelated
// event to look again.

const unavailable = hostUnavailable()
const GIT_TOKEN = 'tok-order-fixed-4e'
const pid = process.pid

const service = (image: string) =>
  `services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n    stop_grace_period: 1s\n`

t.test(
  'a held stack whose Compose file is fixed in Git deploys',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: GIT_TOKEN })
    t.teardown(() => server.close())
    const [x, y, lost, shape] = ['fx', 'fy', 'flost', 'fshape'].map((name) => `${name}-${pid}`) as [
      string,
      string,
      string,
      string,
    ]
    for (const name of [x, y, lost, shape]) t.teardown(() => removeProject(name))
    const needs = (...names: string[]) => `x-docker-cd:\n  depends_on: [${names.join(', ')}]\n`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(`${x}/compose.yaml`, needs(y) + service(image))
      .writeFile(`${y}/compose.yaml`, needs(x) + service(image))
      .writeFile(`${lost}/compose.yaml`, needs('no-such-stack') + service(image))
      .writeFile(`${shape}/compose.yaml`, `x-docker-cd: 5\n${service(image)}`)
    repo.commitAndPush('stacks held by their declared order')
    const app = await build(
      t,
      configFor(server, repo.url, { SYNC_MODE: 'apply', STACKS_DIR: tempDir('docker-cd-stacks-') }),
    )
    await startApp(app)
    const status = (name: string) =>
      app.desiredState.current().stacks.find((stack) => stack.path === name)
    await waitFor(
      () =>
        /cycle/.test(status(x)?.reason ?? '') &&
        /no stack in Git/.test(status(lost)?.reason ?? '') &&
        /must be a mapping/.test(status(shape)?.reason ?? ''),
      'every stack held, with why',
      60_000,
    )
    await app.sync?.idle()

    // One commit fixes all three: the cycle broken (y no longer needs x), the name and the shape fixed.
    repo
      .writeFile(`${y}/compose.yaml`, service(image))
      .writeFile(`${lost}/compose.yaml`, service(image))
      .writeFile(`${shape}/compose.yaml`, `x-docker-cd: {}\n${service(image)}`)
    repo.commitAndPush('the order fixed')
    await app.desiredState.refresh('manual').done
    const running = (name: string) =>
      docker('ps', '-q', '--filter', `label=com.docker.compose.project=${name}`) !== ''
    await waitFor(
      () => [x, y, lost, shape].every((name) => status(name)?.status === 'synced' && running(name)),
      'every fixed stack deployed',
      60_000,
    ).catch((error) => {
      t.comment(JSON.stringify(app.desiredState.current().stacks, null, 1))
      throw error
    })
    t.pass('deployed once Git fixed them')
  },
)
