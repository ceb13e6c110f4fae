import t from 'tap'
import { build, configFor, startApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable, removeProject } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { tempDir } from '../helpers/temp-dir.js'

// A stack that depends on a stack which is itself held for good (a member
// of a depends_on cycle, one naming no stack) says so, on the real engine:
// "waiting for x (queued to deploy)" promised a deploy that never comes.
// The dependant sorts before its dependency, so its first reason is given
// before the dependency's own is known: it must be corrected afterwards.

const unavailable = hostUnavailable()
const pid = process.pid

t.test(
  'the dependant of a held stack says why that one is held',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const server = await startGitServer({ token: 'tok-held-reason-3f' })
    t.teardown(() => server.close())
    const [a, b, x, y, lost] = ['ha', 'hb', 'hx', 'hy', 'hlost'].map((n) => `${n}-${pid}`) as [
      string,
      string,
      string,
      string,
      string,
    ]
    for (const name of [a, b, x, y, lost]) t.teardown(() => removeProject(name))
    const service = `services:\n  app:\n    image: ${image}\n    command: ["sleep", "3600"]\n    network_mode: none\n`
    const needs = (...names: string[]) => `x-docker-cd:\n  depends_on: [${names.join(', ')}]\n`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo
      .writeFile(`${x}/compose.yaml`, needs(y) + service)
      .writeFile(`${y}/compose.yaml`, needs(x) + service)
      .writeFile(`${a}/compose.yaml`, needs(x) + service)
      .writeFile(`${lost}/compose.yaml`, needs('no-such-stack') + service)
      .writeFile(`${b}/compose.yaml`, needs(lost) + service)
    repo.commitAndPush('dependants of held stacks')
    const app = await build(
      t,
      configFor(server, repo.url, { SYNC_MODE: 'apply', STACKS_DIR: tempDir('docker-cd-stacks-') }),
    )
    await startApp(app)
    const reason = (name: string) =>
      app.desiredState.current().stacks.find((stack) => stack.path === name)?.reason ?? ''
    await waitFor(
      () =>
        new RegExp(`waiting for ${x} \\(queued, held: .*forms a cycle`).test(reason(a)) &&
        new RegExp(`waiting for ${lost} \\(queued, held: .*no stack in Git`).test(reason(b)),
      'each dependant saying why its dependency is held',
      60_000,
    ).catch((error) => {
      t.comment(`${a}: ${reason(a)}\n${b}: ${reason(b)}`)
      throw error
    })
    await app.sync?.idle()
    t.pass('idle reached with only held stacks waiting')
  },
)
