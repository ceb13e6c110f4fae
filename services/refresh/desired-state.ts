import type { Config } from '../../schemas/config.js'
import { createGitReader, createSshIdentity, describeRevision, sshCommand } from '../git/index.js'
import { createRefreshController, type RefreshObserver } from './controller.js'
import { createStackHistory, stackHistoryFile } from './stack-history.js'
import { createRefreshSteps } from './steps.js'

// Builds the desired-state services from the configuration: the git reader
// over the bare mirror, and the refresh controller that owns the state. No
// Fastify here, so the process entry can start the startup refresh while
// the web framework is still loading (see main.ts).

export type DesiredStateOptions = {
  /** Where a problem with the stack history file is reported (it is never fatal). */
  warn?: (error: unknown) => void
  observers?: RefreshObserver[]
  onObserverError?: (error: unknown) => void
  /** First retry delay after a failed refresh; tests shorten or lengthen it. */
  backoffInitialMs?: number
}

export function createDesiredState(config: Config, options: DesiredStateOptions = {}) {
  const ssh =
    config.gitSshKeyFile && config.gitSshKnownHostsFile
      ? {
          identity: createSshIdentity(config.gitSshKeyFile),
          knownHosts: config.gitSshKnownHostsFile,
        }
      : undefined
  const gitReader = createGitReader({
    sshCommand: ssh
      ? sshCommand({
          keyFile: ssh.identity.keyFile,
          knownHostsFile: ssh.knownHosts,
          connectTimeoutSeconds: Math.max(1, Math.ceil(config.gitTimeoutMs / 1000)),
        })
      : undefined,
    repoUrl: config.gitRepoUrl,
    revision: config.gitRevision,
    accessToken: config.gitAccessToken,
    username: config.gitUsername,
    cacheDir: config.gitCacheDir,
    timeoutMs: config.gitTimeoutMs,
    memoryLimitBytes: config.gitMemoryLimitBytes,
    sslCaInfo: config.gitSslCaInfo,
  })
  const described = describeRevision(config.gitRevision)
  const controller = createRefreshController({
    runSteps: createRefreshSteps({ git: gitReader, deployDir: config.gitDeployDir }),
    // Until the first refresh a name is assumed to be a branch; the refresh corrects it.
    ref: described.ref,
    refType: described.commit ? 'commit' : 'branch',
    pollIntervalMs: config.refreshPollIntervalMs,
    refreshRate: config.refreshRateLimit,
    backoffInitialMs: options.backoffInitialMs,
    observers: options.observers,
    onObserverError: options.onObserverError,
    history: createStackHistory(
      stackHistoryFile(config.gitCacheDir, config.gitRepoUrl, config.gitDeployDir),
      options.warn ?? (() => {}),
    ),
  })
  /** Removes the private key copy (also done at process exit). */
  const dispose = () => ssh?.identity.remove()
  return { gitReader, controller, dispose }
}

export type DesiredStateServices = ReturnType<typeof createDesiredState>
