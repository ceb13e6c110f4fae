import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateX25519Identity, identityToRecipient } from 'age-encryption'
import t from 'tap'
import { deployedApp, finishedRun, waitFor } from '../helpers/build.js'
import { ensureTestImage, hostUnavailable } from '../helpers/docker.js'
import { createFixtureRepo } from '../helpers/git-fixture.js'
import { startGitServer } from '../helpers/git-server.js'
import { encryptSops } from '../helpers/sops-encrypt.js'
import { HOST_NETWORK, startSwarm, swarmUnavailable } from '../helpers/swarm.js'
import { tempDir } from '../helpers/temp-dir.js'

// Configs and secrets on a real two-node swarm (test/helpers/swarm.ts):
// each file-based one is an object named by its content. A stack of two
// services, `web` reading a config and a secret, `other` reading neither
// (but bind-mounting a directory of the work tree: a note, node-local in
// Swarm). A change of the config file in Git rolls `web` alone — `other`
// keeps its very tasks —, the new object exists and the old one is gone
// once the deploy passed. A service pointed at another version by hand is
// drift, in words. A failing change (a new config with a failing health
// check) removes nothing: the good config object stays, and the stack runs
// it again after docker-cd's rollback. The next passing change removes the
// old versions, the failed one too, and keeps (and says) one that a
// service outside the stack still uses.

const unavailable = hostUnavailable() ?? swarmUnavailable()
// Two private engines forming a swarm take seconds alone and much longer
// on a loaded two-core machine: this file gets more than the usual 120 s.
t.setTimeout(360_000)

type Detail = {
  status: string
  reason?: string
  treeHash: string
  sync?: {
    notes?: string[]
    deployedTreeHash?: string
    rolledBackTo?: { treeHash: string }
    error?: string
  }
  history?: { toTree: string; result: string; reason: string }[]
}

const hash8 = (content: string) => createHash('sha256').update(content).digest('hex').slice(0, 8)

t.test(
  'configs and secrets named by content on a two-node swarm',
  { skip: unavailable ?? false },
  async (t) => {
    const image = ensureTestImage()
    const swarm = await startSwarm()
    t.teardown(() => swarm.close())
    const server = await startGitServer({ token: 'tok-swarm-cfg-30' })
    t.teardown(() => server.close())
    const stack = `swcfg-${process.pid}`
    const compose = (webExtra = '') =>
      `services:
  web:
    image: ${image}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [hostnet]
    configs:
      - source: app_conf
        target: /etc/app.conf
    secrets: [token]
    deploy:
      replicas: 2
${webExtra}  other:
    image: ${image}
    command: ["sleep", "3600"]
    stop_grace_period: 1s
    networks: [hostnet]
    volumes: ["./static:/static:ro"]
    deploy:
      replicas: 2
configs:
  app_conf:
    file: ./app.conf
secrets:
  token:
    file: ./token.txt
${HOST_NETWORK}`
    const repo = createFixtureRepo(server, { stacks: 0 })
    repo.writeFile(`${stack}/compose.yaml`, compose())
    repo.writeFile(`${stack}/app.conf`, 'level=debug\n')
    // The secret is SOPS-encrypted in Git: its plaintext (in SECRETS_DIR) is hashed and shipped.
    const identity = await generateX25519Identity()
    const recipients = [await identityToRecipient(identity)]
    repo.writeFile(
      `${stack}/token.txt`,
      (await encryptSops('s3cret\n', 'binary', { recipients })).text,
    )
    const secretsDir = mkdtempSync('/dev/shm/docker-cd-cfg-secrets-')
    t.teardown(() => rmSync(secretsDir, { recursive: true, force: true }))
    repo.writeFile(`${stack}/static/index.html`, 'hello\n')
    repo.commitAndPush('a stack with a config and a secret')

    const { app, detail, deployed } = await deployedApp(t, server, repo.url, stack, {
      SYNC_TARGET: 'swarm',
      SYNC_TIMEOUT: '60s',
      SWARM_RESOLVE_IMAGE: 'never',
      SOPS_AGE_KEY: identity,
      SECRETS_DIR: secretsDir,
      DOCKER_HOST: `unix://${swarm.manager.socket}`,
      DOCKER_SOCKET: swarm.manager.socket,
    })
    const docker = (...args: string[]) => swarm.manager.docker(...args)
    const lines = (text: string) => text.split('\n').filter(Boolean).sort()
    const objects = (kind: 'config' | 'secret') =>
      lines(
        docker(
          kind,
          'ls',
          '--filter',
          `label=com.docker.stack.namespace=${stack}`,
          '--format',
          '{{.Name}}',
        ),
      )
    /** The ids of the tasks Swarm wants running for a service. */
    const tasks = (service: string) =>
      lines(
        docker('service', 'ps', `${stack}_${service}`, '--filter', 'desired-state=running', '-q'),
      )
    const configOf = (service: string) =>
      docker(
        'service',
        'inspect',
        '--format',
        '{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}}{{end}}',
        `${stack}_${service}`,
      )
    const v1 = `${stack}_app_conf_${hash8('level=debug\n')}`
    const token = `${stack}_token_${hash8('s3cret\n')}`

    t.equal(deployed.status, 'synced', (deployed as Detail).history?.[0]?.reason ?? 'no run')
    t.same(objects('config'), [v1], 'the config, named by its content')
    t.same(objects('secret'), [token], 'the secret, named by the content of its plaintext')
    t.equal(configOf('web'), v1)
    t.match(
      (deployed as Detail).sync?.notes ?? [],
      [
        /^service other bind-mounts \.\/static from the stack's work tree: in Swarm a bind mount is node-local/,
      ],
      'the bind mount from the work tree is noted',
    )
    await waitFor(
      async () => tasks('web').length === 2 && tasks('other').length === 2,
      'four tasks',
    )
    const before = { web: tasks('web'), other: tasks('other') }
    // A task of web (on whichever node) reads the plaintext docker-cd decrypted.
    const webContainer = [swarm.manager, swarm.worker]
      .map((engine) => ({
        engine,
        id: engine.docker(
          'ps',
          '-q',
          '--filter',
          `label=com.docker.swarm.service.name=${stack}_web`,
        ),
      }))
      .find((found) => found.id !== '')
    t.equal(
      webContainer?.engine.docker(
        'exec',
        webContainer.id.split('\n')[0] as string,
        'cat',
        '/run/secrets/token',
      ),
      's3cret',
      'the secret is the plaintext',
    )

    // The config file changes in Git: web rolls, other keeps its tasks, the old config goes.
    repo.writeFile(`${stack}/app.conf`, 'level=info\n')
    repo.commitAndPush('the config file changes')
    await app.desiredState.refresh('manual').done
    const changed = (await finishedRun(detail, 'the config change')) as Detail
    const v2 = `${stack}_app_conf_${hash8('level=info\n')}`
    t.equal(changed.status, 'synced', changed.history?.[0]?.reason ?? 'no run')
    t.equal(changed.history?.[0]?.result, 'completed')
    t.match(
      changed.history?.[0]?.reason,
      new RegExp(`changed web; removed the old config app_conf version ${hash8('level=debug\n')}`),
      'the run says what it changed and removed',
    )
    t.notMatch(changed.history?.[0]?.reason, /other/, 'other is not named as changed')
    t.equal(configOf('web'), v2, 'web runs the new config')
    t.same(objects('config'), [v2], 'the new config object exists, the old one is gone')
    t.same(objects('secret'), [token], 'the unchanged secret keeps its object')
    t.same(tasks('other'), before.other, 'other kept its very tasks: not rolled')
    const webNow = tasks('web')
    t.equal(webNow.length, 2)
    t.ok(
      webNow.every((id) => !before.web.includes(id)),
      'web’s tasks were all replaced',
    )

    // An older version put back by hand (labelled as the stack's, as an operator restoring
    // one would) is drift, said with both versions. A service outside the stack uses it too.
    const byHand = `${stack}_app_conf_0badc0de`
    const byHandFile = join(tempDir('docker-cd-cfg-'), 'app.conf')
    writeFileSync(byHandFile, 'level=by-hand\n')
    docker('config', 'create', '--label', `com.docker.stack.namespace=${stack}`, byHand, byHandFile)
    docker(
      'service',
      'create',
      '--detach',
      '--name',
      `${stack}-cfg-pin`,
      '--network',
      'host',
      '--config',
      `source=${byHand},target=/etc/app.conf`,
      image,
      'sleep',
      '3600',
    )
    docker(
      'service',
      'update',
      '--detach',
      '--config-rm',
      v2,
      '--config-add',
      `source=${byHand},target=/etc/app.conf`,
      `${stack}_web`,
    )
    const drifted = await waitFor(
      async () => {
        const d = (await detail()) as Detail
        return d.status === 'out_of_sync' ? d : undefined
      },
      'the config changed by hand seen as drift',
      60_000,
    )
    t.match(
      drifted.reason,
      new RegExp(
        `service web uses config app_conf version 0badc0de, Git says ${hash8('level=info\n')}`,
      ),
    )

    // A failing change: a new config and a failing health check. Nothing is removed; the good tree runs again.
    const goodTree = changed.treeHash
    repo.writeFile(`${stack}/app.conf`, 'level=broken\n')
    repo.writeFile(
      `${stack}/compose.yaml`,
      compose(
        '    healthcheck:\n      test: ["CMD", "sh", "-c", "echo broken >&2; exit 1"]\n      interval: 1s\n      timeout: 1s\n      retries: 1\n',
      ),
    )
    repo.commitAndPush('a config change with a failing health check')
    await app.desiredState.refresh('manual').done
    const failed = (await finishedRun(detail, 'the failing change')) as Detail
    t.equal(failed.status, 'failed')
    t.equal(failed.history?.[0]?.result, 'failed')
    t.match(failed.sync?.error ?? '', /unhealthy container/, 'the tasks’ reason')
    t.match(failed.sync, { deployedTreeHash: goodTree, rolledBackTo: { treeHash: goodTree } })
    const v3 = `${stack}_app_conf_${hash8('level=broken\n')}`
    t.same(objects('config'), [byHand, v2, v3].sort(), 'nothing removed: the good config is there')
    t.equal(configOf('web'), v2, 'web runs the good config again')
    t.equal(
      docker(
        'service',
        'inspect',
        '--format',
        '{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}',
        `${stack}_web`,
      ),
      'null',
      'without the failing health check',
    )
    await waitFor(() => tasks('web').length === 2, 'web’s two tasks running again', 60_000)
    t.same(tasks('other'), before.other, 'other still runs its first tasks')

    // The next change passes: the old versions go, the one a service still uses is kept, said.
    repo.writeFile(`${stack}/app.conf`, 'level=warn\n')
    repo.writeFile(`${stack}/compose.yaml`, compose())
    repo.commitAndPush('a config change that passes')
    await app.desiredState.refresh('manual').done
    const passed = (await finishedRun(detail, 'the passing change')) as Detail
    const v4 = `${stack}_app_conf_${hash8('level=warn\n')}`
    const reason = passed.history?.[0]?.reason ?? ''
    t.equal(passed.history?.[0]?.result, 'completed', reason)
    t.same(objects('config'), [byHand, v4].sort(), 'v2 and the failed v3 removed')
    t.match(reason, `removed the old config app_conf version ${hash8('level=info\n')}`)
    t.match(reason, `removed the old config app_conf version ${hash8('level=broken\n')}`)
    t.match(
      reason,
      /kept the old config app_conf version 0badc0de \(.*\): config '.*' is in use by the following service: .*-cfg-pin/,
      'the one a service still uses is kept, with the engine’s reason',
    )
    t.equal(configOf('web'), v4)
    t.same(tasks('other'), before.other, 'other never rolled')
  },
)
