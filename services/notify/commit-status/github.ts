import { statusesRequest } from './statuses-api.js'
import type { CommitStatusRequestBuilder, CommitStatusTarget } from './types.js'

// GitHub's commit statuses API ("Create a commit status"):
// https://docs.github.com/rest/commits/statuses#create-a-commit-status
// POST /repos/{owner}/{repo}/statuses/{sha} with state (error, failure,
// pending, success), target_url, description, context; the body schema is
// the one GitHub publishes in its OpenAPI description (@octokit/openapi,
// operation repos/create-commit-status), against which the tests check.
// The schema sets no length, but GitHub answers 422 "description is too long
// (maximum is 140 characters)": the description is cut to fit.

export const GITHUB_DESCRIPTION_MAX = 140
// The REST API version the request is written against (GitHub's versioning:
// https://docs.github.com/rest/about-the-rest-api/api-versions).
export const GITHUB_API_VERSION = '2022-11-28'

type GithubTarget = Extract<CommitStatusTarget, { provider: 'github' }>

export const buildGithubRequest: CommitStatusRequestBuilder<GithubTarget> = (
  target,
  update,
  token,
) =>
  statusesRequest(target, update, {
    descriptionMax: GITHUB_DESCRIPTION_MAX,
    headers: {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${token}`,
      'x-github-api-version': GITHUB_API_VERSION,
    },
  })
