import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../../schemas/config.js'
import { scrubSecrets } from '../base/index.js'
import { GitError, type GitReader } from '../git/index.js'
import {
  type ComposeAsk,
  chooseRuntime,
  createCompose,
  createComposeRuntime,
  createEngineWatch,
  createHostMonitor,
  createImageChecks,
  createImageWatch,
  createRegistryClient,
  createSettleWatch,
  createSwarmApi,
  createSwarmRuntime,
  createWorkTrees,
  dockerConfigFile,
  type Engine,
  lookupCredentials,
  type StackHostState,
  swarmProjects,
} from '../host/index.js'
import { type RefreshObserver, repositoryKey, type Snapshot } from '../refresh/index.js'
import { createSecretFiles, parseAgeIdentities, withSecrets } from '../secrets/index.js'
import type { SyncObserver } from './observers.js'
import { createSyncReconciler, type SyncLog } from './reconciler.js'
import { comparedTree, createDeployRecords } from './records.js'
import { createSyncLog } from './sync-log.js'
import type { Backoff } from './timing.js'

// Builds the host side from the configuration, without Fastify (as
// services/refresh/desired-state.ts does for refresh): the runtime (Compose
// v2 over the engine, or Swarm on a manager: SYNC_TARGET), the stacks' work trees, the deploy records, the host
// monitor, the engine's event watch and the reconciler, wired to each other
// here and nowhere else. The monitor's checks go straight to the reconciler
// (it turns them into statuses), and the tree a stack is compared with comes
// from its deploy record (records.ts comparedTree): no hand-over after the
// fact. plugins/host.ts and plugins/sync.ts only decorate what this returns.

export type HostSyncOptions = {
  config: Config
  engine: Engine
  git: GitReader
  current: () => Snapshot
  /** The refresh controller's writer of a stack's status, reason and health. */
  setStatus: Parameters<typeof createSyncReconciler>[0]['setStatus']
  log: SyncLog
  /** Told about every sync run (event feed, metrics); the log is added here. */
  observers?: SyncObserver[]
  /** Counters of the host side (metrics). */
  sink?: {
    composeRun?: (asked: ComposeAsk) => void
    checked?: (state: StackHostState) => void
    engineLost?: () => void
  }
  /** Told when the engine stops answering and when it answers again (notifications). */
  onEngine?: { lost?(reason: string): void; back?(): void }
  /** The Compose binary (tests: a wrapper that records argv and environment). */
  composeCommand?: string
  /** Tests: shorter back-offs than an operator wants. */
  healBackoff?: Backoff
  retryBackoff?: Backoff
}

export async function createHostSync(options: HostSyncOptions) {
  const { config, log } = options
  // Decrypted SOPS files: in SECRETS_DIR (memory), linked from the work trees.
  const secretFiles = createSecretFiles({ secretsDir: config.secretsDir })
  const serviceSecrets = scrubSecrets(config)
  // Compose can echo a value it read (an interpolation error), a health check can print one: decrypted ones are cut too.
  const scrub = (text: string) => secretFiles.scrub(serviceSecrets(text))
  const compose = createCompose({
    dockerHost: config.dockerHost,
    ...(config.dockerConfig ? { dockerConfig: config.dockerConfig } : {}),
    ...(options.composeCommand ? { command: options.composeCommand } : {}),
    onRun: (asked) => options.sink?.composeRun?.(asked),
    scrub,
  })
  // SYNC_TARGET, decided per engine: a worker (or, for `swarm`, a plain
  // engine) is refused here, before anything starts (TargetRefused).
  const swarmApi = createSwarmApi(options.engine)
  const { runtime, decided } = await chooseRuntime({
    setting: config.syncTarget,
    api: swarmApi,
    engineWords: `the Docker engine at ${options.engine.describe}`,
    compose: createComposeRuntime({ compose, engine: options.engine }),
    swarm: () =>
      createSwarmRuntime({
        compose,
        engine: options.engine,
        resolveImage: config.swarmResolveImage,
        imagePolicy: config.imageUpdates,
        secretsDir: config.secretsDir,
        log,
      }),
  })
  log.info(
    { target: decided ?? 'undecided' },
    decided
      ? `SYNC_TARGET=${config.syncTarget}: stacks are deployed with ${decided === 'swarm' ? 'docker stack deploy (Swarm)' : 'Compose'}`
      : `SYNC_TARGET=${config.syncTarget}: the engine does not answer yet; the target is decided once it does`,
  )
  if (runtime.imageApplyRefused && config.imageUpdates === 'apply')
    log.warn(
      {},
      `IMAGE_UPDATES=apply: moved image tags are reported, not deployed (${runtime.imageApplyRefused})`,
    )
  const workTrees = withSecrets(
    createWorkTrees({ git: options.git, stacksDir: config.stacksDir }),
    {
      git: options.git,
      files: secretFiles,
      // Read when a file needs them: a key file replaced (a rotated Docker secret) counts at once.
      identities: async () =>
        parseAgeIdentities({
          key: config.sopsAgeKey,
          keyFile: config.sopsAgeKeyFile
            ? // Unreadable (mid-rotation): the stack is unknown for now, not "no key".
              await readFile(config.sopsAgeKeyFile, 'utf8')
            : undefined,
        }),
      missingKey: config.syncMode === 'apply' ? 'tree' : 'key',
    },
  )
  // Beside the mirror, keyed by repository: a restart finds what it deployed.
  const records = createDeployRecords(
    join(
      config.gitCacheDir,
      `${repositoryKey(config.gitRepoUrl, config.gitDeployDir)}.deployments`,
    ),
    (error) => log.warn({ err: error }, 'deploy records'),
  )
  await records.load()
  const changedFiles = changedFilesMemo(options.git, log, workTrees.sameSecrets)
  // Image updates (detect): the tags in use, asked of their registries with
  // the Docker config's credentials (the ones Compose pulls with).
  const credentialsFile = dockerConfigFile({ DOCKER_CONFIG: config.dockerConfig })
  const imageWatch = createImageWatch({
    checks: createImageChecks({
      client: createRegistryClient({
        credentials: async (registry) => {
          const found = await lookupCredentials(registry, credentialsFile)
          if ('note' in found && found.note) log.warn({ registry }, found.note)
          return found.found
        },
      }),
      // Asked on request only (IMAGE_POLL_INTERVAL=0): an answer stands for a minute.
      intervalMs: config.imagePollIntervalMs > 0 ? config.imagePollIntervalMs : 60_000,
    }),
    defaultPolicy: config.imageUpdates,
    intervalMs: config.imagePollIntervalMs,
    stacks: () =>
      options
        .current()
        .stacks.map((stack) => ({ path: stack.path, check: monitor.state(stack.path) })),
    changed: (path) => monitor.recheck(path),
    onError: (error) => log.error({ err: error }, 'image check round failed'),
  })
  const monitor = createHostMonitor({
    workTrees,
    runtime,
    current: options.current,
    onState(path, check) {
      reconciler.hostChecked(path, check)
      if (runtime.name === 'swarm') settle.checked(path, check)
    },
    treeFor: (path, tree) => comparedTree(records.get(path), tree),
    // The containers were created from the tree last deployed (a rollback's included).
    async changedSinceDeploy(path, tree) {
      const deployed = records.get(path)?.deployedTreeHash
      if (!deployed || deployed === tree) return undefined
      // A failure is the monitor's to report (unknown, asked again): never "nothing changed".
      return changedFiles(path, deployed, tree)
    },
    imageFindings: (path) => imageWatch.findings(path),
    onChecked: (state) => options.sink?.checked?.(state),
    onError: (error, stack) => log.error({ err: error, stack }, 'host check failed'),
  })
  const reconciler = createSyncReconciler({
    mode: config.syncMode === 'apply' ? 'apply' : 'detect',
    selfHeal: config.syncSelfHeal,
    adopt: config.syncAdopt,
    prune: config.syncPrune,
    imagePolicy: config.imageUpdates,
    scrub,
    waitSeconds: Math.max(1, Math.round(config.syncTimeoutMs / 1000)),
    concurrency: config.syncConcurrency,
    stacksDir: config.stacksDir,
    current: options.current,
    monitor,
    workTrees,
    runtime,
    records,
    git: options.git,
    changedFiles,
    setStatus: options.setStatus,
    observers: [createSyncLog(log), ...(options.observers ?? [])],
    onObserverError: (error) => log.error({ err: error }, 'a sync observer failed'),
    log,
    ...(options.healBackoff ? { healBackoff: options.healBackoff } : {}),
    ...(options.retryBackoff ? { retryBackoff: options.retryBackoff } : {}),
  })
  // Swarm: a stack not healthy is looked at again until it is (its tasks have no events).
  const settle = createSettleWatch({ recheck: (path) => monitor.recheck(path) })
  const watch = createEngineWatch({
    // A swarm's stacks change through their services (a rollout, a scale by hand).
    engine:
      decided === 'swarm'
        ? {
            ping: () => options.engine.ping(),
            events: (handlers) => options.engine.events({ ...handlers, swarm: true }),
          }
        : options.engine,
    onProjects: (projects) => monitor.projectsChanged(projects),
    // A node down or up moves tasks of any stack.
    onNodes() {
      settle.reset()
      monitor.recheckAll()
    },
    onLost(reason) {
      options.sink?.engineLost?.()
      log.warn({}, `engine unreachable: ${reason}; stacks are unknown until it answers again`)
      monitor.engineLost(reason)
      options.onEngine?.lost?.(reason)
    },
    onReconnected() {
      log.info({}, 'engine answers again: every stack is checked')
      monitor.recheckAll()
      options.onEngine?.back?.()
    },
  })
  runtime
    .version()
    .catch((error: Error) =>
      log.warn(
        {},
        `SYNC_MODE=${config.syncMode}: ${error.message}; stacks read unknown until it is there`,
      ),
    )
  // The first image round once every stack was checked (its running digests known).
  void monitor.idle().then(() => imageWatch.start())
  /** In this order: the monitor learns of a refresh's stacks before the reconciler does. */
  const refreshObservers: RefreshObserver[] = [
    monitor.observer,
    reconciler.observer,
    // A stack that left Git is not looked at again.
    {
      refreshFinished(outcome) {
        if (outcome.status === 'completed')
          for (const path of outcome.changes.removed) settle.forget(path)
      },
    },
  ]
  return {
    runtime,
    workTrees,
    monitor,
    reconciler,
    refreshObservers,
    eventsConnected: watch.connected,
    /** SYNC_TARGET=swarm: the swarm's nodes, read now; undefined for Compose. */
    swarmNodes: () => (runtime.name === 'swarm' ? swarmApi.nodes() : undefined),
    /** The projects on the host (GET /api/host): Compose's, or the swarm's stacks. */
    projects: () =>
      runtime.name === 'swarm' ? swarmProjects(swarmApi) : options.engine.projects(),
    /** Image updates: ask the registries now (a manual request). */
    checkImages: () => imageWatch.checkNow(true),
    /** What the last image round found for a stack. */
    imageFindings: imageWatch.findings,
    /** Shutdown: deploys end (or are stopped after the grace), then the watch, the checks, any Compose left. */
    async close() {
      imageWatch.close()
      await reconciler.close()
      await watch.close()
      settle.close()
      // Any Compose still running (a check) is stopped, SIGKILLed after the grace: none outlives the service.
      await Promise.all([monitor.close(), runtime.close(), compose.close()])
    },
  }
}

export type HostSync = Awaited<ReturnType<typeof createHostSync>>

/** Pairs of trees compared, remembered: a tree id names its content for ever. */
const REMEMBERED_DIFFS = 256

/** Git's empty tree: every file of a tree differs from it. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904'

/**
 * `git diff-tree` of two trees of a stack, asked once per pair (a check and
 * the deploy after it share it). A deployed tree the mirror no longer has
 * (a rebuilt mirror is shallow) cannot be compared: every file of the new
 * tree counts as changed, so what reads files is renewed once rather than
 * left reading the old ones while the new tree is recorded as deployed.
 */
function changedFilesMemo(
  git: Pick<GitReader, 'changedFiles'>,
  log: HostSyncOptions['log'],
  /** Leaves out encrypted files whose plaintext is the same in both trees (a re-encryption). */
  sameSecrets: (from: string, to: string, files: readonly string[]) => Promise<string[]>,
) {
  const diffs = new Map<string, Promise<readonly string[]>>()
  return (path: string, fromTree: string, toTree: string): Promise<readonly string[]> => {
    const key = `${fromTree}:${toTree}`
    let diff = diffs.get(key)
    if (!diff) {
      diff = git.changedFiles(fromTree, toTree).then(
        // A comparison of plaintexts that fails (no key now): every such file counts as changed.
        (files) => sameSecrets(fromTree, toTree, files).catch(() => files),
        (error) => {
          if (!(error instanceof GitError && error.code === 'tree_not_found')) throw error
          log.warn(
            { stack: path, tree: fromTree },
            'the deployed tree is not in the mirror: every file the services read counts as changed',
          )
          return git.changedFiles(EMPTY_TREE, toTree)
        },
      )
      diff.catch(() => diffs.delete(key)) // asked again next time
      diffs.set(key, diff)
      if (diffs.size > REMEMBERED_DIFFS) diffs.delete(diffs.keys().next().value as string)
    }
    return diff
  }
}
