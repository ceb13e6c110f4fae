import { truncate } from './truncate.js'
import type { CommitStatusRequestBuilder, CommitStatusState, CommitStatusTarget } from './types.js'
import { USER_AGENT } from './types.js'

// GitLab's commits API, "Set the pipeline status of a commit":
// https://docs.gitlab.com/api/commits/#set-the-pipeline-status-of-a-commit
// POST /projects/:id/statuses/:sha, where :id is the project's number or its
// URL-encoded path (group%2Fsub%2Fproject); state is one of pending, running,
// success, failed, canceled; name (alias context) labels it; description and
// target_url are optional. Authenticated with a personal, project or group
// access token in PRIVATE-TOKEN (docs.gitlab.com/api/rest/authentication).
// GitLab's model refuses a target_url longer than 255 characters
// (GenericCommitStatus validates `length: { maximum: 255 }`); a longer link is
// left out rather than losing the status. The description has no documented
// limit: 255 keeps it to what the status pop-up shows.

export const GITLAB_DESCRIPTION_MAX = 255
export const GITLAB_TARGET_URL_MAX = 255

const GITLAB_STATES: Record<CommitStatusState, string> = {
  // The deploy has started: GitLab's "pending" would read as "waiting to start".
  pending: 'running',
  success: 'success',
  failure: 'failed',
}

type GitlabTarget = Extract<CommitStatusTarget, { provider: 'gitlab' }>

export const buildGitlabRequest: CommitStatusRequestBuilder<GitlabTarget> = (
  target,
  update,
  token,
) => {
  const body: Record<string, string> = {
    state: GITLAB_STATES[update.state],
    name: update.context,
    description: truncate(update.description, GITLAB_DESCRIPTION_MAX),
  }
  if (update.targetUrl && update.targetUrl.length <= GITLAB_TARGET_URL_MAX) {
    body.target_url = update.targetUrl
  }
  return {
    method: 'POST',
    url: `${target.apiBase}/projects/${encodeURIComponent(target.projectPath)}/statuses/${encodeURIComponent(update.sha)}`,
    headers: {
      accept: 'application/json',
      'content-type': 'application/json',
      'private-token': token,
      'user-agent': USER_AGENT,
    },
    body,
  }
}
