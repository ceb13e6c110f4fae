// The shapes shared by the target, the per-host request builders and the
// client. A target says where statuses go; an update says what one status is;
// a request is what goes over the wire (the client serialises the body).

import { COMMIT_STATUS_PROVIDERS } from '../../../schemas/config.js'

export { COMMIT_STATUS_PROVIDERS }
export type CommitStatusProvider = (typeof COMMIT_STATUS_PROVIDERS)[number]

/** Where one repository's commit statuses are written. */
export type CommitStatusTarget =
  | {
      provider: 'github'
      /** API base without a trailing slash, e.g. `https://api.github.com`. */
      apiBase: string
      owner: string
      repo: string
      /** The repository's web page (links when no public URL is configured). */
      webUrl: string
    }
  | { provider: 'gitea'; apiBase: string; owner: string; repo: string; webUrl: string }
  | {
      provider: 'gitlab'
      apiBase: string
      /** `group/sub/project`, as the repository URL names it (encoded when sent). */
      projectPath: string
      webUrl: string
    }
  | {
      provider: 'bitbucket'
      apiBase: string
      workspace: string
      repoSlug: string
      webUrl: string
    }

/** docker-cd's own three states; each host maps them to its vocabulary. */
export type CommitStatusState = 'pending' | 'success' | 'failure'

export type CommitStatusUpdate = {
  sha: string
  state: CommitStatusState
  /** `docker-cd/<instance>/<stack>`: one status per instance and stack. */
  context: string
  description: string
  /** The stack's dashboard page, when PUBLIC_URL is configured. */
  targetUrl?: string
}

export type CommitStatusRequest = {
  method: 'POST'
  url: string
  headers: Record<string, string>
  body: Record<string, string>
}

/** A request builder: one per host, each following that host's own API. */
export type CommitStatusRequestBuilder<T extends CommitStatusTarget = CommitStatusTarget> = (
  target: T,
  update: CommitStatusUpdate,
  token: string,
) => CommitStatusRequest

// GitHub asks every API client to name itself in User-Agent (requests
// without one are refused); the others accept it.
export const USER_AGENT = 'docker-cd'
