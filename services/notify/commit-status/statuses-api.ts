import { truncate } from './truncate.js'
import type { CommitStatusRequest, CommitStatusTarget, CommitStatusUpdate } from './types.js'
import { USER_AGENT } from './types.js'

// GitHub's statuses API and Gitea's copy of it (Forgejo keeps Gitea's):
// POST /repos/{owner}/{repo}/statuses/{sha} with state, context,
// description and target_url. Only the description's limit and the
// headers (how the token is sent, which media type) differ: github.ts and
// gitea.ts give those.

type StatusesTarget = Extract<CommitStatusTarget, { provider: 'github' | 'gitea' }>

export function statusesRequest(
  target: StatusesTarget,
  update: CommitStatusUpdate,
  options: { descriptionMax: number; headers: Record<string, string> },
): CommitStatusRequest {
  const body: Record<string, string> = {
    // pending, success and failure are both hosts' own words.
    state: update.state,
    context: update.context,
    description: truncate(update.description, options.descriptionMax),
  }
  if (update.targetUrl) body.target_url = update.targetUrl
  return {
    method: 'POST',
    url: `${target.apiBase}/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.repo)}/statuses/${encodeURIComponent(update.sha)}`,
    headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...options.headers },
    body,
  }
}
