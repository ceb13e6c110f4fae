export { BITBUCKET_KEY_MAX, bitbucketKey, buildBitbucketRequest } from './bitbucket.js'
export type {
  CommitStatusClient,
  CommitStatusClientOptions,
  CommitStatusProblem,
  CommitStatusResult,
} from './client.js'
export { createCommitStatusClient } from './client.js'
export { buildGiteaRequest, GITEA_DESCRIPTION_MAX } from './gitea.js'
export { buildGithubRequest, GITHUB_API_VERSION, GITHUB_DESCRIPTION_MAX } from './github.js'
export { buildGitlabRequest, GITLAB_DESCRIPTION_MAX, GITLAB_TARGET_URL_MAX } from './gitlab.js'
export { type CommitStatusTargetOptions, commitStatusTarget } from './provider.js'
export { buildCommitStatusRequest } from './request.js'
export { truncate } from './truncate.js'
export * from './types.js'
