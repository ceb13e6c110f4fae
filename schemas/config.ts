import { hostname, tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { z } from 'zod'
import { DOCKER_HOST_FORMS, type DockerHostSource, parseDockerHost } from './docker-host.js'
import { parseDuration } from './duration.js'

// The environment contract: what each variable may hold. Parsed in one pass
// (services/base/config.ts) so that every mistake is reported at once, one line
// each, naming the variable. Schemas describe; reading files is services' work.

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value))

const duration = (fallback: string, { allowZero }: { allowZero: boolean }) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        const ms = parseDuration(text)
        if (ms === 0 && !allowZero) {
          ctx.addIssue({ code: 'custom', message: 'must be greater than 0' })
          return z.NEVER
        }
        return ms
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message })
        return z.NEVER
      }
    })

// scp-like ssh address, as git accepts it: `[user@]host:path` (no scheme).
// A path with `@` is refused: `user:password@host:path` would parse as host
// `user` and carry the password into argv.
const SCP_LIKE = /^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?!\/\/)([^\s@]+)$/

/** What GIT_REPO_URL accepts, for the messages that refuse a value. */
export const REPO_URL_FORMS =
  'use https://host/owner/repo.git, ssh://git@host[:port]/owner/repo.git or git@host:owner/repo.git'

// A path on this machine (`/srv/deploy.git`, `./deploy`, `~/deploy`) or a file:// URL.
const LOCAL_PATH = /^(?:\/|\.{1,2}(?:\/|$)|~|file:)/

const repoUrl = z.string({ error: 'is required' }).transform((raw, ctx) => {
  const text = raw.trim()
  if (!text.includes('://') && SCP_LIKE.test(text)) return text
  if (LOCAL_PATH.test(text)) {
    // The value is not echoed: a mistyped URL may carry a credential.
    ctx.addIssue({
      code: 'custom',
      message: `is a path on this machine; docker-cd reads the repository from a Git server: ${REPO_URL_FORMS} (a repository on this machine: ssh://user@localhost/path/repo.git)`,
    })
    return z.NEVER
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    ctx.addIssue({ code: 'custom', message: `is not a valid URL: ${REPO_URL_FORMS}` })
    return z.NEVER
  }
  if (url.protocol !== 'https:' && url.protocol !== 'ssh:') {
    ctx.addIssue({
      code: 'custom',
      message: `must use https:// or ssh:// (got ${url.protocol}//): ${REPO_URL_FORMS}`,
    })
    return z.NEVER
  }
  if (url.password || (url.protocol === 'https:' && url.username)) {
    // A credential in the URL would end up in git's argv and the mirror config.
    ctx.addIssue({
      code: 'custom',
      message:
        url.protocol === 'https:'
          ? 'must not contain credentials; use GIT_ACCESS_TOKEN and GIT_USERNAME'
          : 'must not contain a password; use GIT_SSH_KEY_FILE',
    })
    return z.NEVER
  }
  if (url.search || url.hash) {
    ctx.addIssue({ code: 'custom', message: 'must not contain a query or fragment' })
    return z.NEVER
  }
  return url.toString()
})

/** ssh:// URLs and scp-like addresses reach the repository over ssh. */
export const isSshRepoUrl = (url: string) => url.startsWith('ssh://') || !url.includes('://')

// Branch, tag or commit names as `git check-ref-format` accepts them (the
// subset that matters: no spaces, control characters, `..`, `~^:?*[\`, `@{`).
const revision = z
  .string({ error: 'is required' })
  .transform((text) => text.trim())
  .refine(
    (text) =>
      text.length > 0 &&
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what git refuses
      !/[\s\x00-\x1f\x7f~^:?*[\\]|\.\.|@\{|\/\/|^[/.-]|[/.]$|\.lock$|^@$/.test(text) &&
      !text.split('/').some((part) => part.startsWith('.')),
    { message: 'is not a valid branch, tag or commit name' },
  )

const deployDir = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const trimmed = text.trim()
    if (trimmed.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(trimmed)) {
      ctx.addIssue({ code: 'custom', message: 'must be relative to the repository root' })
      return z.NEVER
    }
    if (trimmed.split(/[\\/]/).includes('..')) {
      ctx.addIssue({ code: 'custom', message: 'must not contain ".."' })
      return z.NEVER
    }
    const normalised = posix.normalize(trimmed === '' ? '.' : trimmed).replace(/\/+$/, '')
    return normalised === '.' ? '' : normalised
  })

/** A whole number in [min, max], with what it is in the message. */
const wholeNumber = (fallback: string, min: number, max: number, what: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const value = Number(text)
      if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `must be ${what} between ${min} and ${max}` })
        return z.NEVER
      }
      return value
    })

const port = wholeNumber('8080', 1, 65535, 'a port number')

// A byte size: `512MiB`, `2GiB`, `1073741824`; `0` switches the limit off.
const UNITS: Record<string, number> = { '': 1, b: 1, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30 }
const byteSize = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim())
      const unit = UNITS[match?.[2]?.toLowerCase() ?? 'x']
      if (!match || unit === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be a size like 512MiB or 2GiB (0: no limit)',
        })
        return z.NEVER
      }
      const bytes = Number(match[1]) * unit
      if (bytes !== 0 && bytes < 64 * 2 ** 20) {
        ctx.addIssue({ code: 'custom', message: 'must be at least 64MiB (git cannot start below)' })
        return z.NEVER
      }
      return bytes
    })

// `<starts>/<duration>`: that many refresh starts at once, refilled at that
// many per duration (`30/1m`); `0` switches pacing off.
const refreshRate = z
  .string()
  .default('30/1m')
  .transform((text, ctx) => {
    const trimmed = text.trim()
    if (trimmed === '0') return null
    const match = /^(\d+)\s*\/\s*(\S+)$/.exec(trimmed)
    let periodMs = 0
    try {
      periodMs = match?.[2] ? parseDuration(match[2]) : 0
    } catch {
      periodMs = 0
    }
    const burst = Number(match?.[1] ?? 0)
    if (!match || burst < 1 || periodMs <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be <refreshes>/<duration> such as 30/1m (0: no pacing)',
      })
      return z.NEVER
    }
    return { burst, periodMs }
  })

// Fastify's trustProxy: `true`, a hop count, or addresses/CIDRs separated by commas.
const trustProxy = z
  .string()
  .default('false')
  .transform((text, ctx): boolean | number | string[] => {
    const trimmed = text.trim().toLowerCase()
    if (trimmed === 'false' || trimmed === '0' || trimmed === '') return false
    if (trimmed === 'true') return true
    if (/^\d+$/.test(trimmed)) return Number(trimmed)
    const list = trimmed.split(',').map((part) => part.trim())
    if (list.every((part) => /^[0-9a-f.:]+(\/\d{1,3})?$/.test(part))) return list
    ctx.addIssue({
      code: 'custom',
      message: 'must be true, false, a hop count, or proxy addresses (10.0.0.1,10.0.0.0/8)',
    })
    return z.NEVER
  })

const SYNC_MODES = ['off', 'detect', 'apply'] as const
/** What deploys the stacks: Compose, Swarm (`docker stack deploy`), or whichever the engine is. */
export const SYNC_TARGETS = ['compose', 'swarm', 'auto'] as const
/** `docker stack deploy --resolve-image`. */
const RESOLVE_IMAGE = ['always', 'changed', 'never'] as const
const syncMode = z
  .enum(SYNC_MODES, { error: `must be one of ${SYNC_MODES.join(', ')}` })
  .default('detect')

// An on/off switch, written the ways operators write them in .env files.
const flag = z
  .string()
  .default('false')
  .transform((text, ctx) => {
    const value = text.trim().toLowerCase()
    if (['true', '1', 'yes', 'on'].includes(value)) return true
    if (['false', '0', 'no', 'off', ''].includes(value)) return false
    ctx.addIssue({ code: 'custom', message: 'must be true or false' })
    return z.NEVER
  })

// PUBLIC_URL: where people reach the dashboard (links in messages and commit statuses).
const publicUrl = optionalText.refine(
  (value) => {
    if (value === undefined) return true
    try {
      const url = new URL(value.trim())
      return (
        (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password
      )
    } catch {
      return false
    }
  },
  { message: 'must be an http(s) URL without credentials, e.g. https://deploy.example.com' },
)

/** The Git hosts whose commit-status API docker-cd speaks. */
export const COMMIT_STATUS_PROVIDERS = ['github', 'gitlab', 'gitea', 'bitbucket'] as const

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export const configEnvSchema = z.object({
  GIT_REPO_URL: repoUrl,
  GIT_REVISION: revision,
  GIT_ACCESS_TOKEN: optionalText,
  GIT_USERNAME: z.string().default('x-access-token'),
  GIT_DEPLOY_DIR: deployDir,
  WEBHOOK_SECRET: optionalText,
  API_TOKEN: optionalText
    .refine((token) => token === undefined || token.length >= 16, {
      message: 'must be at least 16 characters (e.g. openssl rand -hex 32)',
    })
    // A Bearer header carries visible ASCII only, and HTTP strips outer
    // whitespace: a token with a space, tab, newline, control or non-ASCII
    // character could never match, and every call would get 401.
    .refine((token) => token === undefined || /^[\x21-\x7e]+$/.test(token), {
      message:
        'must be printable ASCII without spaces or control characters (no request could send it)',
    }),
  REFRESH_POLL_INTERVAL: duration('5m', { allowZero: true }),
  REFRESH_RATE_LIMIT: refreshRate,
  TRUST_PROXY: trustProxy,
  GIT_TIMEOUT: duration('60s', { allowZero: false }),
  GIT_MEMORY_LIMIT: byteSize('1GiB'),
  GIT_CACHE_DIR: z.string().default(join(tmpdir(), 'docker-cd-cache')),
  GIT_SSL_CAINFO: optionalText,
  GIT_SSH_KEY_FILE: optionalText,
  GIT_SSH_KNOWN_HOSTS_FILE: optionalText,
  PORT: port,
  HOST: z.string().default('0.0.0.0'),
  PROJECT_NAME: z.string().default('Docker-CD'),
  DOCKER_SOCKET: z.string().default('/var/run/docker.sock'),
  DOCKER_HOST: optionalText.refine(
    (value) => {
      if (value === undefined) return true
      try {
        parseDockerHost(value.trim())
        return true
      } catch {
        return false
      }
    },
    { message: DOCKER_HOST_FORMS },
  ),
  SYNC_MODE: syncMode,
  STACKS_DIR: optionalText,
  SYNC_TIMEOUT: duration('5m', { allowZero: false }).refine((ms) => ms >= 1000, {
    message: 'must be at least 1s (it is passed to Compose as --wait-timeout in seconds)',
  }),
  SYNC_CONCURRENCY: wholeNumber('4', 1, 64, 'a number of stacks deployed at once'),
  SYNC_PRUNE: flag,
  SYNC_SELF_HEAL: flag,
  SYNC_ADOPT: flag,
  SYNC_TARGET: z
    .enum(SYNC_TARGETS, {
      error: `must be one of ${SYNC_TARGETS.join(', ')} (auto: Swarm when the engine is an active Swarm manager, Compose otherwise)`,
    })
    .default('auto'),
  SWARM_RESOLVE_IMAGE: z
    .enum(RESOLVE_IMAGE, {
      error: `must be one of ${RESOLVE_IMAGE.join(', ')} (docker stack deploy --resolve-image)`,
    })
    .default('always'),
  SOPS_AGE_KEY: optionalText,
  SOPS_AGE_KEY_FILE: optionalText,
  SECRETS_DIR: z.string().default('/run/docker-cd/secrets'),
  INSTANCE_NAME: z
    .string()
    .default(hostname())
    .refine((name) => /^[\x21-\x7e]{1,64}$/.test(name.trim()), {
      message:
        'must be 1 to 64 printable characters without spaces (it names this host in messages)',
    }),
  PUBLIC_URL: publicUrl,
  NOTIFY_URLS: optionalText,
  NOTIFY_ON: optionalText,
  NOTIFY_ENGINE_DOWN_AFTER: duration('2m', { allowZero: true }),
  NOTIFY_GIT_FAILING_AFTER: duration('15m', { allowZero: true }),
  COMMIT_STATUS: flag,
  COMMIT_STATUS_TOKEN: optionalText,
  COMMIT_STATUS_PROVIDER: z
    .enum(COMMIT_STATUS_PROVIDERS, {
      error: `must be one of ${COMMIT_STATUS_PROVIDERS.join(', ')}`,
    })
    .optional(),
  COMMIT_STATUS_API_URL: optionalText,
  IMAGE_UPDATES: z
    .enum(['off', 'detect', 'apply'], {
      error:
        'must be off, detect or apply (detect: a moved image tag is reported; apply: it is pulled and deployed behind the health gate)',
    })
    .default('off'),
  IMAGE_POLL_INTERVAL: duration('0', { allowZero: true }),
  DOCKER_CONFIG: optionalText,
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
    .default('info'),
})

export type Config = {
  gitRepoUrl: string
  gitRevision: string
  gitAccessToken: string | undefined
  gitUsername: string
  gitDeployDir: string
  webhookSecret: string | undefined
  /** Bearer token required on /api/* (except the webhook); undefined: open. */
  apiToken: string | undefined
  refreshPollIntervalMs: number
  /** Pace of webhook and manual refresh starts: `burst` at once, `burst` more per `periodMs`; null: off. */
  refreshRateLimit: { burst: number; periodMs: number } | null
  /** Fastify's trustProxy: clients told apart by X-Forwarded-For behind these proxies. */
  trustProxy: boolean | number | string[]
  gitTimeoutMs: number
  /** Address-space limit of each git process, bytes; 0: none. */
  gitMemoryLimitBytes: number
  gitCacheDir: string
  gitSslCaInfo: string | undefined
  /** Private key of an ssh GIT_REPO_URL (a deploy key); its path, not its content. */
  gitSshKeyFile: string | undefined
  /** known_hosts for an ssh GIT_REPO_URL: host keys are checked strictly. */
  gitSshKnownHostsFile: string | undefined
  port: number
  host: string
  projectName: string
  /** The engine, as DOCKER_HOST: DOCKER_HOST itself, else unix://DOCKER_SOCKET. */
  dockerHost: string
  /** Which variable set `dockerHost` (neither: the default socket), for messages. */
  dockerHostSource: DockerHostSource
  /** off: never read the host; detect: drift only (manual syncs apply); apply: deploy what Git changed. */
  syncMode: (typeof SYNC_MODES)[number]
  /** Where stack work trees are written and Compose runs. */
  stacksDir: string
  /** Bound on one stack's health wait (`--wait-timeout`), ms. */
  syncTimeoutMs: number
  /** Stacks deployed at the same time (1: one at a time, in name order). */
  syncConcurrency: number
  /** Take down stacks docker-cd deployed that Git no longer has. */
  syncPrune: boolean
  /** Re-apply a stack whose host drifted from the tree docker-cd deployed. */
  syncSelfHeal: boolean
  /** Take over running Compose projects of the same name that docker-cd did not deploy. */
  syncAdopt: boolean
  /** What deploys the stacks, per engine: Compose, Swarm, or auto (Swarm on an active manager). */
  syncTarget: (typeof SYNC_TARGETS)[number]
  /** Whether `docker stack deploy` asks registries for image digests (`--resolve-image`). */
  swarmResolveImage: (typeof RESOLVE_IMAGE)[number]
  /** age identities for SOPS files (sops's SOPS_AGE_KEY), never logged. */
  sopsAgeKey: string | undefined
  /** A file of age identities (sops's SOPS_AGE_KEY_FILE; a Docker secret too): read when needed. */
  sopsAgeKeyFile: string | undefined
  /** Where decrypted SOPS files live: a memory-backed directory (tmpfs), never persistent disk. */
  secretsDir: string
  /** This host's name in messages and commit-status contexts (INSTANCE_NAME, default the host name). */
  instanceName: string
  /** Where people reach the dashboard, for links; undefined: no links. */
  publicUrl: string | undefined
  /** Notification channels, one URL each (they carry tokens: never logged). */
  notifyUrls: string | undefined
  /** Event kinds worth a message (NOTIFY_ON); undefined: the default set. */
  notifyOn: string | undefined
  /** An engine outage is told once it lasted this long, ms. */
  notifyEngineDownAfterMs: number
  /** Failing refreshes are told once they lasted this long, ms. */
  notifyGitFailingAfterMs: number
  /** Report each stack's deploy as a commit status on the Git host. */
  commitStatus: boolean
  /** A token that may write commit statuses; GIT_ACCESS_TOKEN when unset. Never logged. */
  commitStatusToken: string | undefined
  commitStatusProvider: (typeof COMMIT_STATUS_PROVIDERS)[number] | undefined
  /** The Git host's API base (GitHub Enterprise, self-hosted GitLab, Gitea, Forgejo). */
  commitStatusApiUrl: string | undefined
  /** Default image policy of a stack (its `x-docker-cd.image_updates` wins): off, or detect a moved tag. */
  imageUpdates: 'off' | 'detect' | 'apply'
  /** How often the registries are asked about the tags in use, ms; 0: only on request. */
  imagePollIntervalMs: number
  /** The Docker CLI's config dir (registry credentials, as Compose reads them); undefined: ~/.docker. */
  dockerConfig: string | undefined
  logLevel: (typeof LOG_LEVELS)[number]
}
