import { statusesRequest } from './statuses-api.js'
import type { CommitStatusRequestBuilder, CommitStatusTarget } from './types.js'

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

export const buildGiteaRequest: CommitStatusRequestBuilder<GiteaTarget> = (target, update, token) =>
  statusesRequest(target, update, {
    descriptionMax: GITEA_DESCRIPTION_MAX,
    headers: { accept: 'application/json', authorization: `token ${token}` },
  })
