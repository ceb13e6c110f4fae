import { truncate } from './truncate.js'
import type { CommitStatusRequestBuilder, CommitStatusTarget } from './types.js'
import { USER_AGENT } from './types.js'

// Gitea's API (Forgejo keeps the same one), operation repoCreateStatus in its
// swagger document (https://gitea.com/api/swagger#/repository/repoCreateStatus,
// templates/swagger/v1_json.tmpl in go-gitea/gitea):
// POST /repos/{owner}/{repo}/statuses/{sha} with a CreateStatusOption body:
// context, description, state (CommitStatusState: pending, success, error,
// failure, warning), target_url. Tokens go in `Authorization: token …`.
// Gitea stores the description as TEXT, with no limit; 255 keeps it to what
// the commit list's tooltip shows.

export const GITEA_DESCRIPTION_MAX = 255

type GiteaTarget = Extract<CommitStatusTarget, { provider: 'gitea' }>

export const buildGiteaRequest: CommitStatusRequestBuilder<GiteaTarget> = (
  target,
  update,
  token,
) => {
  const body: Record<string, string> = {
    // pending, success and failure are Gitea's own words too.
    state: update.state,
    context: update.context,
    description: truncate(update.description, GITEA_DESCRIPTION_MAX),
  }
  if (update.targetUrl) body.target_url = update.targetUrl
  return {
    method: 'POST',
    url: `${target.apiBase}/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.repo)}/statuses/${encodeURIComponent(update.sha)}`,
    headers: {
      accept: 'application/json',
      authorization: `token ${token}`,
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
    },
    body,
  }
}
