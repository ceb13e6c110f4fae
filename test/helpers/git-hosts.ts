import { createHmac, randomUUID } from 'node:crypto'
import { signBody } from '../../services/webhooks/signature.js'
import type { Delivery } from './github.js'

// Deliveries as GitLab, Gitea, Forgejo, Gogs and Bitbucket send them: their
// documented payload shapes and full header sets (the Gitea family also
// sends GitHub- and Gogs-compatible headers), signed their own way. Test
// code builds these without the service's provider table.

export type GitHost = 'gitea' | 'forgejo' | 'gogs' | 'gitlab' | 'bitbucket'

type Options = { secret?: string; id?: string; form?: boolean }

const sha = (n: number) => n.toString(16).padStart(40, '0')

/** A Gitea/Forgejo/Gogs push payload (the three share Gogs' format). */
export function giteaPush(ref: string, after: string) {
  const commit = {
    id: after,
    message: 'deploy: bump web\n',
    url: `https://git.example.com/org/deploy/commit/${after}`,
    author: { name: 'Ops', email: 'ops@example.com', username: 'ops' },
    committer: { name: 'Ops', email: 'ops@example.com', username: 'ops' },
    timestamp: '2026-11-23T10:00:00Z',
    added: [],
    removed: [],
    modified: ['web/compose.yaml'],
  }
  return {
    ref,
    before: sha(1),
    after,
    compare_url: `https://git.example.com/org/deploy/compare/${sha(1)}...${after}`,
    commits: [commit],
    total_commits: 1,
    head_commit: commit,
    repository: {
      id: 7,
      owner: { id: 3, login: 'org', username: 'org' },
      name: 'deploy',
      full_name: 'org/deploy',
      private: true,
      html_url: 'https://git.example.com/org/deploy',
      clone_url: 'https://git.example.com/org/deploy.git',
      default_branch: 'main',
    },
    pusher: { id: 5, login: 'ops', username: 'ops' },
    sender: { id: 5, login: 'ops', username: 'ops' },
  }
}

/** A GitLab push (`refs/heads/…`) or tag push (`refs/tags/…`) payload. */
export function gitlabPush(ref: string, after: string) {
  const tag = ref.startsWith('refs/tags/')
  return {
    object_kind: tag ? 'tag_push' : 'push',
    event_name: tag ? 'tag_push' : 'push',
    before: sha(1),
    after,
    ref,
    ref_protected: true,
    checkout_sha: after,
    user_id: 4,
    user_name: 'Ops',
    user_username: 'ops',
    user_email: 'ops@example.com',
    project_id: 15,
    project: {
      id: 15,
      name: 'deploy',
      path_with_namespace: 'org/deploy',
      default_branch: 'main',
      web_url: 'https://gitlab.example.com/org/deploy',
      git_http_url: 'https://gitlab.example.com/org/deploy.git',
    },
    commits: [{ id: after, message: 'deploy: bump web', timestamp: '2026-11-23T10:00:00Z' }],
    total_commits_count: 1,
    repository: { name: 'deploy', url: 'git@gitlab.example.com:org/deploy.git' },
  }
}

/** A Bitbucket Cloud `repo:push` payload: `changes[].new` is null for a deleted ref. */
export function bitbucketPush(
  changes: { type: 'branch' | 'tag'; name: string; hash: string; deleted?: boolean }[],
) {
  return {
    actor: { display_name: 'Ops', type: 'user', uuid: '{a1}' },
    repository: { type: 'repository', full_name: 'org/deploy', name: 'deploy', uuid: '{r1}' },
    push: {
      changes: changes.map((change) => {
        const side = {
          type: change.type,
          name: change.name,
          target: { type: 'commit', hash: change.hash },
        }
        return {
          old: { ...side, target: { type: 'commit', hash: sha(1) } },
          new: change.deleted ? null : side,
          created: false,
          forced: false,
          closed: change.deleted ?? false,
          truncated: false,
        }
      }),
    },
  }
}

/** The delivery `host` would send for `event` with `body`. */
export function hostDelivery(
  host: GitHost,
  event: string,
  body: unknown,
  options: Options = {},
): Delivery {
  const json = JSON.stringify(body)
  const payload = options.form ? `payload=${encodeURIComponent(json)}` : json
  const id = options.id ?? randomUUID()
  const contentType = options.form ? 'application/x-www-form-urlencoded' : 'application/json'
  const hmac = options.secret ? signBody(options.secret, payload, '') : undefined
  if (host === 'gitlab') {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-gitlab-event': event,
      'x-gitlab-event-uuid': id,
      'x-gitlab-instance': 'https://gitlab.example.com',
      'x-gitlab-webhook-uuid': 'c1f9c3a4-1111-4d4f-9d47-0d9a0b8c7e11',
      'user-agent': 'GitLab/17.5.0',
    }
    if (options.secret) headers['x-gitlab-token'] = options.secret
    return { payload, headers }
  }
  if (host === 'bitbucket') {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-event-key': event,
      'x-request-uuid': id,
      'x-hook-uuid': '{4d1c1b2a-9c1e-4b1f-8d1e-0a1b2c3d4e5f}',
      'x-attempt-number': '1',
      'user-agent': 'Bitbucket-Webhooks/2.0',
    }
    if (hmac) headers['x-hub-signature'] = `sha256=${hmac}`
    return { payload, headers }
  }
  // The Gitea family: its own headers plus the Gogs- and GitHub-compatible
  // ones (Forgejo sends Gitea's too). Gogs sends only its own.
  const families: string[] =
    host === 'forgejo'
      ? ['forgejo', 'gitea', 'gogs']
      : host === 'gitea'
        ? ['gitea', 'gogs']
        : ['gogs']
  const headers: Record<string, string> = {
    'content-type': contentType,
    'user-agent': host === 'gogs' ? 'Gogs' : 'Go-http-client/1.1',
  }
  for (const family of families) {
    headers[`x-${family}-event`] = event
    headers[`x-${family}-event-type`] = event
    headers[`x-${family}-delivery`] = id
    if (hmac) headers[`x-${family}-signature`] = hmac
  }
  if (host !== 'gogs') {
    headers['x-github-event'] = event
    headers['x-github-event-type'] = event
    headers['x-github-delivery'] = id
    if (hmac) {
      headers['x-hub-signature'] = `sha1=${createHmac('sha1', options.secret as string)
        .update(payload)
        .digest('hex')}`
      headers['x-hub-signature-256'] = `sha256=${hmac}`
    }
  }
  return { payload, headers }
}
