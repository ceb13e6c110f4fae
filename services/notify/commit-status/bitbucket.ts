import { createHash } from 'node:crypto'
import { truncate } from './truncate.js'
import type { CommitStatusRequestBuilder, CommitStatusState, CommitStatusTarget } from './types.js'
import { USER_AGENT } from './types.js'

// Bitbucket Cloud's REST API, "Create a build status for a commit":
// https://developer.atlassian.com/cloud/bitbucket/rest/api-group-commit-statuses/
// POST /repositories/{workspace}/{repo_slug}/commit/{commit}/statuses/build
// with key, state (INPROGRESS, SUCCESSFUL, FAILED, STOPPED), name,
// description, url. A second status with the same key replaces the first, so
// the key is what makes pending → success one status. Bitbucket refuses a key
// longer than 40 characters (Flux's notification-controller hashes its key for
// that reason) and a status without url.
// Auth: a repository, project or workspace access token as Bearer, or
// `user:secret` (an app password or API token) as Basic.

export const BITBUCKET_KEY_MAX = 40
// Not documented; 255 keeps it to what the build pop-up shows.
export const BITBUCKET_DESCRIPTION_MAX = 255

const BITBUCKET_STATES: Record<CommitStatusState, string> = {
  pending: 'INPROGRESS',
  success: 'SUCCESSFUL',
  failure: 'FAILED',
}

/**
 * A key of at most 40 characters, the same for the same context every time:
 * the readable start of the context plus a hash of all of it, so that two
 * long contexts sharing a prefix never overwrite each other's status.
 */
export function bitbucketKey(context: string): string {
  const hash = createHash('sha256').update(context).digest('hex').slice(0, 10)
  const readable = context.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, BITBUCKET_KEY_MAX - 11)
  return `${readable}-${hash}`
}

type BitbucketTarget = Extract<CommitStatusTarget, { provider: 'bitbucket' }>

export const buildBitbucketRequest: CommitStatusRequestBuilder<BitbucketTarget> = (
  target,
  update,
  token,
) => {
  const sha = encodeURIComponent(update.sha)
  return {
    method: 'POST',
    url: `${target.apiBase}/repositories/${encodeURIComponent(target.workspace)}/${encodeURIComponent(target.repoSlug)}/commit/${sha}/statuses/build`,
    headers: {
      accept: 'application/json',
      // `user:secret` is Basic; anything else is an access token.
      authorization: token.includes(':')
        ? `Basic ${Buffer.from(token).toString('base64')}`
        : `Bearer ${token}`,
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
    },
    body: {
      key: bitbucketKey(update.context),
      state: BITBUCKET_STATES[update.state],
      name: update.context,
      description: truncate(update.description, BITBUCKET_DESCRIPTION_MAX),
      // url is required. Without PUBLIC_URL there is no dashboard page to
      // link, so the status links to the commit itself on Bitbucket.
      url: update.targetUrl ?? `${target.webUrl}/commits/${sha}`,
    },
  }
}
