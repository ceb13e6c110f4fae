import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { deployedApp, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { HOST_NETWORK, startSwarm, swarmUnavailable } from '../helpers/swarm.js'
import { tempDir } from '../helpers/temp-dir.js'

// Who owns a Swarm stack, on a real two-node swarm: two stacks deployed by
// hand with `docker stack deploy` (one of them with the name of a stack in
// Git, the other with a name Git does not have) are never touched — not
// updated, not pruned — while docker-cd deploys its own stack and, with
// SYNC_PRUNE, removes it (`docker stack rm`) once Git no longer has it.
// Ownership: docker-cd's deploy record, or its work-tree label on the
// services (stack-file.ts); a stack without either is someone else's.

const unavailable = hostUnavailable() ?? swarmUnavailable()
t.setTimeout(360_000)

type Detail = { status: string; reason?: string }

t.test(
  'foreign stacks stay untouched, an owned one is pruned',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const swarm = await startSwarm()
    t.teardown(() => swarm.close())
    const server = await startGitServer({ token: 'tok-swarm-owner-30' })
    t.teardown(() => server.close())
    const owned = `st-own-${process.pid}`
    const sameName = `st-fa-${process.pid}`
    const elsewhere = `st-fb-${process.pid}`
    const compose = (greeting: string) =>
      `services:\n  web:\n    image: ${image}\n    command: ["sleep", "3600"]\n    stop_grace_period: 1s\n    environment:\n      GREETING: ${greeting}\n    networks: [hostnet]\n${HOST_NETWORK}`

    // By hand, before docker-cd starts: as an operator deploys stacks of their own.
    const dir = tempDir('docker-cd-foreign-')
    for (const name of [sameName, elsewhere]) {
      writeFileSync(join(dir, `${name}.yaml`), compose('by hand'))
      swarm.manager.docker('stack', 'deploy', '--compose-file', join(dir, `${name}.yaml`), name)
    }
    /** What would change if docker-cd touched a service: its spec version and update time. */
    const specOf = (name: string) =>
      swarm.manager.docker(
        'service',
        'inspect',
        '--format',
        '{{.Version.Index}} {{.UpdatedAt}} {{json .Spec.TaskTemplate.ContainerSpec.Env}}',
        `${name}_web`,
      )
    const before = { sameName: specOf(sameName), elsewhere: specOf(elsewhere) }
    /** The services of a stack, by its namespace label. */
    const servicesOf = (name: string) =>
      swarm.manager
        .docker('service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${name}`)
        .split('\n')
        .filter(Boolean)

    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeFile(`${owned}/compose.yaml`, compose('from git'))
    repo.writeFile(`${sameName}/compose.yaml`, compose('from git'))
    repo.commitAndPush('a stack of ours, and one named as a stack deployed by hand')
    const { app, detail, deployed } = await deployedApp(t, server, repo.url, owned, {
      SYNC_TARGET: 'swarm',
      SYNC_PRUNE: 'true',
      SYNC_TIMEOUT: '60s',
      SWARM_RESOLVE_IMAGE: 'never',
      DOCKER_HOST: `unix://${swarm.manager.socket}`,
      DOCKER_SOCKET: swarm.manager.socket,
    })
    t.match(deployed, { status: 'synced' }, 'our stack deployed')
    t.equal(servicesOf(owned).length, 1)
    /** GET /api/host's projects: on a swarm, its stacks. */
    const projects = async () =>
      ((await app.inject({ url: '/api/host' })).json() as { projects: { name: string }[] }).projects
    t.match(
      (await projects()).find((project) => project.name === owned),
      { stack: owned, workingDir: /\S/, containers: 1, running: 1 },
      'our stack listed with its work tree',
    )
    t.same(
      (await projects()).find((project) => project.name === elsewhere),
      { name: elsewhere, containers: 1, running: 1 },
      'the one by hand: no stack, no work tree',
    )

    const foreign = (await waitFor(async () => {
      const d = (await app.inject({ url: `/api/stacks/${sameName}` })).json() as Detail
      return /not managed by docker-cd/.test(d.reason ?? '') ? d : undefined
    }, 'the stack deployed by hand said not to be ours')) as Detail
    t.equal(foreign.status, 'out_of_sync', 'it differs from Git, and is left so')
    t.match(
      foreign.reason,
      /^not managed by docker-cd: deployed by hand from a docker stack deploy without docker-cd's io\.docker-cd\.work-tree label; service web environment differs from Git \(GREETING\)/,
    )

    // Our stack leaves Git: with SYNC_PRUNE it goes (`docker stack rm`); the others stay.
    repo.removeStack(owned)
    repo.commitAndPush('our stack leaves Git')
    await app.desiredState.refresh('manual').done
    await waitFor(() => servicesOf(owned).length === 0, 'our stack removed from the swarm', 120_000)
    await app.sync?.idle()
    t.same(app.sync?.removed(), [], 'nothing left to take down')
    t.equal((await detail()).statusCode, 404, 'the stack is gone from the API')

    t.notOk(
      (await projects()).some((project) => project.name === owned),
      'gone from GET /api/host',
    )
    t.match(
      (await app.inject({ url: '/' })).body,
      new RegExp(`other Compose projects .*\\n  ${elsewhere}  1/1 running`),
      'the status page lists the stack deployed by hand as the operator’s own',
    )
    t.equal(
      specOf(sameName),
      before.sameName,
      'the stack of Git’s name, deployed by hand: not updated',
    )
    t.equal(specOf(elsewhere), before.elsewhere, 'the stack Git does not have: not pruned')
    for (const name of [sameName, elsewhere])
      t.equal(
        swarm.manager
          .docker(
            'service',
            'ps',
            `${name}_web`,
            '--filter',
            'desired-state=running',
            '--format',
            '{{.CurrentState}}',
          )
          .split(' ')[0],
        'Running',
        `${name} still runs`,
      )
  },
)
