import { buildBitbucketRequest } from './bitbucket.js'
import { buildGiteaRequest } from './gitea.js'
import { buildGithubRequest } from './github.js'
import { buildGitlabRequest } from './gitlab.js'
import type { CommitStatusRequest, CommitStatusTarget, CommitStatusUpdate } from './types.js'

// The one place that picks a host's builder, so the client stays host-blind.

export function buildCommitStatusRequest(
  target: CommitStatusTarget,
  update: CommitStatusUpdate,
  token: string,
): CommitStatusRequest {
  switch (target.provider) {
    case 'github':
      return buildGithubRequest(target, update, token)
    case 'gitlab':
      return buildGitlabRequest(target, update, token)
    case 'gitea':
      return buildGiteaRequest(target, update, token)
    case 'bitbucket':
      return buildBitbucketRequest(target, update, token)
  }
}
