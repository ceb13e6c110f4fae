import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Config, configEnvSchema, isSshRepoUrl } from '../../schemas/config.js'

type ConfigEnv = ReturnType<typeof configEnvSchema.parse>

// Loads the configuration from the environment: reads the `*_FILE` secrets,
// checks that files named by variables are readable, and reports every
// problem at once, one line each, naming the variable.

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'))
    this.name = 'ConfigError'
  }
}

const SECRET_VARIABLES = [
  'GIT_ACCESS_TOKEN',
  'WEBHOOK_SECRET',
  'API_TOKEN',
  'NOTIFY_URLS',
  'COMMIT_STATUS_TOKEN',
] as const

/** `X_FILE` is the Docker/Compose-secrets form of `X`; setting both is an error. */
function resolveSecretFiles(env: Record<string, string | undefined>, problems: string[]) {
  const resolved: Record<string, string | undefined> = { ...env }
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`]?.trim()
    if (!file) continue
    if (env[name]?.trim()) {
      problems.push(`${name}_FILE: cannot be set together with ${name}; choose one`)
      continue
    }
    try {
      // Secret files conventionally end with a newline; it is not part of the secret.
      resolved[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
      if (resolved[name] === '') problems.push(`${name}_FILE: ${file} is empty`)
    } catch (error) {
      problems.push(`${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`)
    }
  }
  return resolved
}

/** Settings that belong to the other transport, or that ssh cannot do without. */
function transportProblems(data: ConfigEnv): string[] {
  const problems: string[] = []
  if (isSshRepoUrl(data.GIT_REPO_URL)) {
    if (data.GIT_ACCESS_TOKEN)
      problems.push('GIT_ACCESS_TOKEN: not used with an ssh GIT_REPO_URL; use GIT_SSH_KEY_FILE')
    if (data.GIT_SSL_CAINFO) problems.push('GIT_SSL_CAINFO: not used with an ssh GIT_REPO_URL')
    if (!data.GIT_SSH_KEY_FILE)
      problems.push('GIT_SSH_KEY_FILE: required with an ssh GIT_REPO_URL (a read-only deploy key)')
    if (!data.GIT_SSH_KNOWN_HOSTS_FILE)
      problems.push(
        'GIT_SSH_KNOWN_HOSTS_FILE: required with an ssh GIT_REPO_URL (host keys are always checked; see ssh-keyscan)',
      )
  } else {
    for (const name of ['GIT_SSH_KEY_FILE', 'GIT_SSH_KNOWN_HOSTS_FILE'] as const) {
      if (data[name]) problems.push(`${name}: only used with an ssh GIT_REPO_URL`)
    }
  }
  return problems
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = []
  const withSecrets = resolveSecretFiles(env, problems)
  // Empty variables count as unset, as in a compose file's `VAR: ${VAR:-}`.
  const present = Object.fromEntries(
    Object.entries(withSecrets).filter(([, value]) => value !== undefined && value !== ''),
  )
  const parsed = configEnvSchema.safeParse(present)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(`${String(issue.path[0])}: ${issue.message}`)
    }
  }
  for (const name of [
    'GIT_SSL_CAINFO',
    'GIT_SSH_KEY_FILE',
    'GIT_SSH_KNOWN_HOSTS_FILE',
    'SOPS_AGE_KEY_FILE',
  ]) {
    const file = present[name]?.trim()
    if (!file) continue
    try {
      readFileSync(file)
    } catch (error) {
      problems.push(`${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code})`)
    }
  }
  if (parsed.success) problems.push(...transportProblems(parsed.data))
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems)
  const data = parsed.data
  return {
    gitRepoUrl: data.GIT_REPO_URL,
    gitRevision: data.GIT_REVISION,
    gitAccessToken: data.GIT_ACCESS_TOKEN,
    gitUsername: data.GIT_USERNAME,
    gitDeployDir: data.GIT_DEPLOY_DIR,
    webhookSecret: data.WEBHOOK_SECRET,
    apiToken: data.API_TOKEN,
    refreshPollIntervalMs: data.REFRESH_POLL_INTERVAL,
    refreshRateLimit: data.REFRESH_RATE_LIMIT,
    trustProxy: data.TRUST_PROXY,
    gitTimeoutMs: data.GIT_TIMEOUT,
    gitMemoryLimitBytes: data.GIT_MEMORY_LIMIT,
    gitCacheDir: data.GIT_CACHE_DIR,
    gitSslCaInfo: data.GIT_SSL_CAINFO,
    gitSshKeyFile: data.GIT_SSH_KEY_FILE,
    gitSshKnownHostsFile: data.GIT_SSH_KNOWN_HOSTS_FILE,
    port: data.PORT,
    host: data.HOST,
    projectName: data.PROJECT_NAME,
    dockerHost: data.DOCKER_HOST?.trim() ?? `unix://${data.DOCKER_SOCKET}`,
    dockerHostSource: data.DOCKER_HOST
      ? 'DOCKER_HOST'
      : present.DOCKER_SOCKET
        ? 'DOCKER_SOCKET'
        : 'default',
    syncMode: data.SYNC_MODE,
    stacksDir: data.STACKS_DIR ?? join(data.GIT_CACHE_DIR, 'stacks'),
    syncTimeoutMs: data.SYNC_TIMEOUT,
    syncConcurrency: data.SYNC_CONCURRENCY,
    syncPrune: data.SYNC_PRUNE,
    syncSelfHeal: data.SYNC_SELF_HEAL,
    syncAdopt: data.SYNC_ADOPT,
    syncTarget: data.SYNC_TARGET,
    swarmResolveImage: data.SWARM_RESOLVE_IMAGE,
    sopsAgeKey: data.SOPS_AGE_KEY,
    sopsAgeKeyFile: data.SOPS_AGE_KEY_FILE?.trim(),
    secretsDir: data.SECRETS_DIR,
    instanceName: data.INSTANCE_NAME.trim(),
    publicUrl: data.PUBLIC_URL?.trim(),
    notifyUrls: data.NOTIFY_URLS,
    notifyOn: data.NOTIFY_ON,
    notifyEngineDownAfterMs: data.NOTIFY_ENGINE_DOWN_AFTER,
    notifyGitFailingAfterMs: data.NOTIFY_GIT_FAILING_AFTER,
    commitStatus: data.COMMIT_STATUS,
    commitStatusToken: data.COMMIT_STATUS_TOKEN,
    commitStatusProvider: data.COMMIT_STATUS_PROVIDER,
    commitStatusApiUrl: data.COMMIT_STATUS_API_URL?.trim(),
    imageUpdates: data.IMAGE_UPDATES,
    imagePollIntervalMs: data.IMAGE_POLL_INTERVAL,
    dockerConfig: data.DOCKER_CONFIG?.trim(),
    logLevel: data.LOG_LEVEL,
  }
}
