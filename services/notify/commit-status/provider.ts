import { configEnvSchema } from '../../../schemas/config.js'
import {
  COMMIT_STATUS_PROVIDERS,
  type CommitStatusProvider,
  type CommitStatusTarget,
} from './types.js'

// Which Git host a repository lives on, and where its status API is, derived
// from GIT_REPO_URL in any form git accepts (https, ssh://, scp-like
// user@host:path). The three public hosts are known; any other host must be
// named with COMMIT_STATUS_PROVIDER, because a self-hosted GitLab, Gitea or
// GitHub Enterprise cannot be told apart from its URL. Problems come back as
// one line in words, naming the variable to change, as config problems do.

export type CommitStatusTargetOptions = {
  repoUrl: string
  provider?: CommitStatusProvider
  /** COMMIT_STATUS_API_URL: the API base (GitHub Enterprise, self-hosted GitLab, Gitea, Forgejo). */
  apiUrl?: string
}

const PROVIDER_NAMES: Record<CommitStatusProvider, string> = {
  github: 'GitHub',
  gitlab: 'GitLab',
  gitea: 'Gitea/Forgejo',
  bitbucket: 'Bitbucket Cloud',
}

const PUBLIC_HOSTS: Record<string, { provider: CommitStatusProvider; apiBase: string }> = {
  'github.com': { provider: 'github', apiBase: 'https://api.github.com' },
  'gitlab.com': { provider: 'gitlab', apiBase: 'https://gitlab.com/api/v4' },
  'bitbucket.org': { provider: 'bitbucket', apiBase: 'https://api.bitbucket.org/2.0' },
}

type Location = {
  /** Host name in lower case, without the port. */
  host: string
  /** Where the repository's web pages are: the https origin of the host. */
  webOrigin: string
  /** Path segments of the repository, without `.git`. */
  segments: string[]
}

// scp-like `[user@]host:path`, already accepted by the GIT_REPO_URL schema.
const SCP_LIKE = /^(?:[^@/]+@)?(\[[^\]]+\]|[^:/]+):(.+)$/

/** The repository's host and path, from a URL the config schema accepts. */
function locate(repoUrl: string): Location | { problem: string } {
  // The same schema as startup: a URL refused there is refused here, in the same words.
  const parsed = configEnvSchema.shape.GIT_REPO_URL.safeParse(repoUrl)
  if (!parsed.success) {
    return { problem: `GIT_REPO_URL: ${parsed.error.issues[0]?.message ?? 'is not valid'}` }
  }
  const text = parsed.data
  let host: string
  let webOrigin: string
  let path: string
  if (!text.includes('://')) {
    const match = SCP_LIKE.exec(text)
    if (!match?.[1] || !match[2]) return { problem: 'GIT_REPO_URL: is not a valid URL' }
    host = match[1].toLowerCase()
    webOrigin = `https://${host}`
    path = match[2]
  } else {
    const url = new URL(text)
    host = url.hostname.toLowerCase()
    // An ssh port (ssh://git@host:2222/…) says nothing about the web port.
    webOrigin = url.protocol === 'https:' ? url.origin : `https://${url.hostname}`
    try {
      path = decodeURIComponent(url.pathname)
    } catch {
      return { problem: 'GIT_REPO_URL: its path has a broken %-escape' }
    }
  }
  const segments = path
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .split('/')
    .filter((segment) => segment !== '')
  return { host, webOrigin, segments }
}

/** COMMIT_STATUS_API_URL checked: http(s), no credentials, no query; no trailing slash. */
function apiBaseFrom(apiUrl: string):
  | { apiBase: string; pathPrefix: string; host: string }
  | {
      problem: string
    } {
  let url: URL
  try {
    url = new URL(apiUrl.trim())
  } catch {
    return { problem: 'COMMIT_STATUS_API_URL: is not a valid URL' }
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { problem: `COMMIT_STATUS_API_URL: must use https:// (got ${url.protocol}//)` }
  }
  if (url.username || url.password) {
    return {
      problem: 'COMMIT_STATUS_API_URL: must not contain credentials; use COMMIT_STATUS_TOKEN',
    }
  }
  if (url.search || url.hash) {
    return { problem: 'COMMIT_STATUS_API_URL: must not contain a query or fragment' }
  }
  const apiBase = url.toString().replace(/\/+$/, '')
  // A host served under a sub-path (https://host/gitlab/api/v4) has the same
  // prefix in its repository URLs; it is not part of the project path.
  const apiPath = url.pathname.indexOf('/api/')
  const pathPrefix = apiPath > 0 ? url.pathname.slice(1, apiPath) : ''
  return { apiBase, pathPrefix, host: url.hostname.toLowerCase() }
}

function isProvider(value: unknown): value is CommitStatusProvider {
  return (COMMIT_STATUS_PROVIDERS as readonly unknown[]).includes(value)
}

/** Where commit statuses for `repoUrl` go, or why they cannot be written. */
export function commitStatusTarget(
  options: CommitStatusTargetOptions,
): CommitStatusTarget | { problem: string } {
  if (options.provider !== undefined && !isProvider(options.provider)) {
    return {
      problem: `COMMIT_STATUS_PROVIDER: must be one of ${COMMIT_STATUS_PROVIDERS.join(', ')} (got ${String(options.provider)})`,
    }
  }
  const location = locate(options.repoUrl)
  if ('problem' in location) return location
  const { host, webOrigin } = location
  let { segments } = location

  const known = PUBLIC_HOSTS[host]
  const provider = options.provider ?? known?.provider
  if (!provider) {
    return {
      problem: `COMMIT_STATUS_PROVIDER: required for ${host}, which is not github.com, gitlab.com or bitbucket.org: set it to ${COMMIT_STATUS_PROVIDERS.join(', ')}`,
    }
  }

  let apiBase: string
  if (options.apiUrl !== undefined && options.apiUrl.trim() !== '') {
    const api = apiBaseFrom(options.apiUrl)
    if ('problem' in api) return api
    apiBase = api.apiBase
    const prefix = api.pathPrefix.split('/').filter((segment) => segment !== '')
    if (
      api.host === host &&
      prefix.length > 0 &&
      prefix.every((segment, index) => segments[index] === segment)
    ) {
      segments = segments.slice(prefix.length)
    }
  } else if (known && known.provider === provider) {
    apiBase = known.apiBase
  } else if (provider === 'gitea') {
    // Gitea and Forgejo serve their API beside the web pages, at /api/v1.
    apiBase = `${webOrigin}/api/v1`
  } else if (provider === 'bitbucket') {
    return {
      problem: `COMMIT_STATUS_PROVIDER: bitbucket means Bitbucket Cloud (bitbucket.org); ${host} is another host (Bitbucket Data Center has a different API, not supported)`,
    }
  } else {
    const usual = provider === 'github' ? '/api/v3' : '/api/v4'
    const kind = provider === 'github' ? 'GitHub Enterprise Server' : 'a self-hosted GitLab'
    return {
      problem: `COMMIT_STATUS_API_URL: required for ${kind} at ${host} (usually ${webOrigin}${usual})`,
    }
  }

  const webUrl = `${webOrigin}/${location.segments.join('/')}`
  if (provider === 'gitlab') {
    if (segments.length < 2) {
      return {
        problem: `GIT_REPO_URL: a GitLab project path is group/project (or group/sub/project); "${segments.join('/')}" is not`,
      }
    }
    return { provider, apiBase, projectPath: segments.join('/'), webUrl }
  }
  const [owner, repo] = segments
  if (segments.length !== 2 || !owner || !repo) {
    return {
      problem: `GIT_REPO_URL: a ${PROVIDER_NAMES[provider]} repository path is owner/name; "${segments.join('/')}" is not`,
    }
  }
  if (provider === 'bitbucket')
    return { provider, apiBase, workspace: owner, repoSlug: repo, webUrl }
  return { provider, apiBase, owner, repo, webUrl }
}
