import { randomUUID } from 'node:crypto'
import { signBody } from '../../services/webhooks/signature.js'

// GitHub delivery shapes, trimmed to the fields GitHub always sends, signed
// the way GitHub signs: HMAC-SHA256 over the exact body bytes.

export function pushPayload(ref: string, after: string, before = '0'.repeat(40)) {
  return {
    ref,
    before,
    after,
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/acme/deploy/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
    commits: [
      {
        id: after,
        message: 'change',
        timestamp: '2026-11-22T10:00:00Z',
        added: [],
        removed: [],
        modified: ['web/compose.yaml'],
      },
    ],
    head_commit: { id: after, message: 'change', timestamp: '2026-11-22T10:00:00Z' },
    repository: {
      id: 1,
      name: 'deploy',
      full_name: 'acme/deploy',
      private: true,
      default_branch: 'main',
    },
    pusher: { name: 'octocat', email: 'octocat@example.com' },
    sender: { login: 'octocat', id: 1, type: 'User' },
  }
}

export function pingPayload() {
  return {
    zen: 'Keep it logically awesome.',
    hook_id: 42,
    hook: {
      type: 'Repository',
      id: 42,
      active: true,
      events: ['push'],
      config: { content_type: 'json', insecure_ssl: '0' },
    },
    repository: { id: 1, full_name: 'acme/deploy' },
    sender: { login: 'octocat', id: 1 },
  }
}

export type Delivery = { payload: string; headers: Record<string, string> }

/** A delivery as GitHub sends it: JSON, or form-encoded with the JSON in `payload=`. */
export function delivery(
  event: string,
  body: unknown,
  options: { secret?: string; form?: boolean; id?: string } = {},
): Delivery {
  const json = JSON.stringify(body)
  const payload = options.form ? `payload=${encodeURIComponent(json)}` : json
  const headers: Record<string, string> = {
    'content-type': options.form ? 'application/x-www-form-urlencoded' : 'application/json',
    'x-github-event': event,
    'x-github-delivery': options.id ?? randomUUID(),
    'x-github-hook-id': '42',
    'user-agent': 'GitHub-Hookshot/abc1234',
  }
  if (options.secret) headers['x-hub-signature-256'] = signBody(options.secret, payload)
  return { payload, headers }
}

/** POSTs a signed push of `after` to main to a running service's webhook, as GitHub would. */
export function sendPush(base: string, after: string, secret: string): Promise<Response> {
  const d = delivery('push', pushPayload('refs/heads/main', after), { secret })
  return fetch(`${base}/api/webhook`, { method: 'POST', headers: d.headers, body: d.payload })
}
