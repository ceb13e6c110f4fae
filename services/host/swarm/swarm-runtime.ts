import { type Compose, ComposeUnavailable } from '../compose.js'
import { type Engine, EngineUnavailable, type InspectedContainer } from '../docker-engine.js'
import { modelOf, type StackHostState, unreadModel } from '../drift.js'
import { untrackedReads } from '../file-changes.js'
import type { StackRuntime } from '../runtime.js'
import { type ImagePolicy, readStackSettings, withServiceNames } from '../stack-settings.js'
import { WorkTreeError } from '../work-tree-safety.js'
import { type NamedObject, readObjectFile, withContentNames } from './content-names.js'
import { objectWords, oldVersions, stackObjects } from './old-versions.js'
import { watchRollout } from './rollout.js'
import { nodeLocalMounts, type RenderedStack, refuseUnsupported, stackFile } from './stack-file.js'
import { createSwarmApi, currentTasks, type SwarmApi } from './swarm-api.js'
import { swarmDeployedFrom, swarmStackState } from './swarm-drift.js'
import { SWARM_IMAGE_APPLY_REFUSED, withSwarmImages } from './swarm-images.js'
import { nodeLabel } from './swarm-status.js'

// The Swarm runtime: the second implementation of the runtime seam
// (runtime.ts). A stack is a Swarm stack named as Compose names the
// project; it is deployed with `docker stack deploy` (Compose's rendering
// of the work tree on stdin, see stack-file.ts), the rollout is watched to
// its end through the Engine API (rollout.ts), and the check compares the
// deployed services' specs with the tree (swarm-drift.ts). Swarm's own
// rules (scheduling, update order, restarts) are never re-implemented.
//
// Configs and secrets are named by their content (content-names.ts): a
// changed file is a new object and a new spec, so the deploy rolls the
// services reading it and `renew` is not asked for them; the old versions
// go once a deploy passed its gate (old-versions.ts).
//
// Not (yet) for Swarm: builds (refused), applying image updates (detected
// only: swarm-images.ts).

/** `docker stack deploy --resolve-image`: whether the CLI asks the registry for each image's digest. */
export type ResolveImage = 'always' | 'changed' | 'never'

/** The docker CLI has no `stack config` (before 23): the deploy is its check. */
const NO_STACK_CONFIG = /unknown (shorthand )?flag|unknown command|is not a docker command|Usage:/

export function createSwarmRuntime(options: {
  compose: Pick<Compose, 'model' | 'rendered' | 'docker' | 'close'>
  engine: Pick<Engine, 'read' | 'ping'>
  resolveImage: ResolveImage
  /** IMAGE_UPDATES: the image policy of a stack and service that name none (notes). */
  imagePolicy?: ImagePolicy
  /** SECRETS_DIR: a decrypted SOPS file in the work tree is a link into it (followed). */
  secretsDir?: string
  /** Where an old config or secret the engine refuses to remove is said. */
  log?: {
    info(details: object, message: string): void
    warn(details: object, message: string): void
  }
}): StackRuntime {
  const { compose, engine } = options
  const api: SwarmApi = createSwarmApi(engine)

  /** The tree as Swarm is given it (configs and secrets named by content), refused when Swarm cannot run it. */
  async function renderedFor(
    dir: string,
  ): Promise<{ rendered: RenderedStack; named: NamedObject[] }> {
    const rendered = (await compose.rendered(dir)) as RenderedStack
    refuseUnsupported(rendered)
    const stack = rendered.name ?? (await compose.model(dir)).name
    return withContentNames(stack, rendered, (file) =>
      readObjectFile(file, { dir, secretsDir: options.secretsDir }),
    )
  }

  async function check(input: Parameters<StackRuntime['check']>[0]): Promise<StackHostState> {
    let rendered: RenderedStack
    let stack: string
    let settings: StackHostState['settings']
    let notes: string[]
    try {
      const model = await modelOf({ ...input, compose })
      stack = model.name
      settings = withServiceNames(
        readStackSettings(model.settings),
        Object.keys(model.services ?? {}),
      )
      notes = [...untrackedReads(model.reads), ...nodeLocalMounts(model.reads)]
      ;({ rendered } = await renderedFor(input.dir))
    } catch (error) {
      input.claim?.(undefined)
      // Refused for Swarm: failed until Git changes the tree (as a refused tree is).
      if (error instanceof WorkTreeError)
        return { status: 'failed', reason: error.message, plan: [], containers: [] }
      return unreadModel(error)
    }
    const others = input.claim?.(stack) ?? []
    if (others.length > 0)
      return {
        status: 'failed',
        reason: `not evaluated or deployed: stack name ${stack} is also the name of ${others.map((s) => `stack ${s}`).join(', ')} (give each a top-level name:)`,
        project: stack,
        plan: [],
        containers: [],
      }
    try {
      const services = await api.services(stack)
      const tasks = await api.tasks(services.map((service) => service.id))
      // A task on a node that is down is not running (swarm-status.ts).
      const nodes = await api.nodes().catch(() => [])
      const state = swarmStackState({
        stack,
        tree: rendered,
        services,
        tasks,
        nodeName: (id) => nodeLabel(nodes, id) || id.slice(0, 12),
        nodes,
      })
      // Image updates: detected as on Compose, never applied (swarm-images.ts).
      return withSwarmImages(
        {
          ...state,
          ...(settings ? { settings } : {}),
          ...(notes.length > 0 ? { notes } : {}),
        },
        {
          tree: rendered,
          findings: input.imageFindings,
          defaultPolicy: options.imagePolicy ?? 'off',
          resolveImage: options.resolveImage,
        },
      )
    } catch (error) {
      if (error instanceof EngineUnavailable)
        return {
          status: 'unknown',
          reason: `engine unreachable: ${error.message}`,
          project: stack,
          plan: [],
          containers: [],
        }
      throw error
    }
  }

  async function apply(
    dir: string,
    run: { waitSeconds: number; signal: AbortSignal; onWaiting?: () => void },
  ) {
    const { rendered } = await renderedFor(dir)
    const { name } = await compose.model(dir)
    const since = await api.now()
    await compose.docker(
      dir,
      [
        'stack',
        'deploy',
        '--compose-file',
        '-',
        '--prune',
        '--with-registry-auth',
        '--resolve-image',
        options.resolveImage,
        name,
      ],
      { input: stackFile(rendered, dir), signal: run.signal, timeoutMs: 5 * 60_000 },
    )
    run.onWaiting?.()
    await watchRollout({
      api,
      stack: name,
      services: Object.keys(rendered.services ?? {}),
      waitSeconds: run.waitSeconds,
      signal: run.signal,
      since,
    })
  }

  /**
   * The old versions of the stack's configs and secrets (old-versions.ts),
   * removed one by one with the docker CLI; one the engine refuses (a
   * service names it still) is kept and said. What was done, in words.
   */
  async function removeOldVersions(dir: string, signal: AbortSignal): Promise<string[]> {
    const { named } = await renderedFor(dir)
    const { name: stack } = await compose.model(dir)
    const old = oldVersions(await stackObjects(engine, stack), named)
    const words: string[] = []
    for (const object of old) {
      const what = objectWords(object, named)
      try {
        await compose.docker(dir, [object.kind, 'rm', object.id], { signal, timeoutMs: 60_000 })
        options.log?.info({ stack, [object.kind]: object.name }, `removed the old ${what}`)
        words.push(`removed the old ${what}`)
      } catch (error) {
        // The engine's own words, without the transport's wrapping.
        const message = (error as Error).message
          .replace(/^Error response from daemon:\s*/, '')
          .replace(/^rpc error: code = \w+ desc = /, '')
        options.log?.warn(
          { stack, [object.kind]: object.name, reason: message },
          `kept the old ${what}: the engine refuses to remove it`,
        )
        words.push(`kept the old ${what}: ${message}`)
      }
    }
    return words
  }

  /** The stack's current tasks as the read-back sees containers (a task is replaced, never restarted). */
  async function inspect(stack: string): Promise<InspectedContainer[]> {
    const services = await api.services(stack)
    const tasks = await api.tasks(services.map((service) => service.id))
    return services.flatMap((service) =>
      currentTasks(service, tasks).map((task) => ({
        id: task.id,
        name: `${service.fullName}.${task.slot ?? task.nodeId.slice(0, 12)}`,
        service: service.name,
        // A task with a health check is `starting` until it is healthy.
        state: task.state === 'starting' ? 'running' : task.state,
        ...(task.state === 'starting' ? { health: 'starting' } : {}),
        restartCount: 0,
        exitCode: task.exitCode ?? 0,
        restartPolicy: 'swarm',
        startedAt: task.timestamp,
        image: service.image,
        ...(task.error ? { healthOutput: task.error } : {}),
      })),
    )
  }

  return {
    name: 'swarm',
    imageApplyRefused: SWARM_IMAGE_APPLY_REFUSED,
    model: (dir) => compose.model(dir),
    check,
    async validate(dir) {
      const { rendered } = await renderedFor(dir)
      // The docker CLI's own stack loader, where it has `stack config` (23+): its verdict before anything is touched.
      await compose
        .docker(dir, ['stack', 'config', '--compose-file', '-'], {
          input: stackFile(rendered, dir),
          timeoutMs: 60_000,
        })
        .catch((error: Error) => {
          if (NO_STACK_CONFIG.test(error.message)) return
          throw new WorkTreeError(
            'tree',
            `the docker CLI's stack loader refuses it: ${error.message}`,
          )
        })
    },
    // Each node pulls what its tasks need (`--with-registry-auth` passes the credentials on).
    imagesToPull: async () => [],
    pull: async () => {},
    build: async () => {
      throw new WorkTreeError('tree', 'Swarm builds nothing: build and push the image')
    },
    apply,
    async renew(dir, services, _how, run) {
      // A changed file a service reads: its tasks are replaced (`service update --force`).
      const { name } = await compose.model(dir)
      const since = await api.now()
      for (const service of services)
        await compose.docker(
          dir,
          ['service', 'update', '--detach', '--force', '--quiet', `${name}_${service}`],
          { signal: run.signal, timeoutMs: 60_000 },
        )
      await watchRollout({ api, stack: name, services, ...run, since })
    },
    restoreImages: async () => {},
    removeImages: async () => {},
    contentNamed: ['config', 'secret'],
    removeOldVersions,
    inspect,
    takeDown: async (dir, stack, signal) => {
      await compose.docker(dir, ['stack', 'rm', stack], { signal, timeoutMs: 5 * 60_000 })
    },
    // docker-cd labels each service with the work tree it deployed (stack-file.ts).
    deployedFrom: swarmDeployedFrom,
    ping: () => engine.ping(),
    async version() {
      await engine.ping()
      const role = await api.role()
      if (role.kind !== 'manager')
        throw new ComposeUnavailable(
          `the engine is not an active Swarm manager (${role.kind === 'worker' ? 'a worker' : role.state})`,
        )
      return 'swarm'
    },
    close: () => compose.close(),
  }
}
