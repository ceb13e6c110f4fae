import { verifySignature, verifyToken } from './signature.js'

// The Git hosts whose webhooks POST /api/webhook understands, each with its
// own headers, signing and payload. Gitea and Forgejo also send GitHub- and
// Gogs-compatible headers beside their own, so the most specific sender is
// recognised first: Forgejo, Gitea, Gogs, GitLab, Bitbucket, then GitHub
// (also the fallback for a delivery without any known header).

type Headers = Record<string, string | string[] | undefined>

export type ProviderName = 'forgejo' | 'gitea' | 'gogs' | 'gitlab' | 'bitbucket' | 'github'

/** What a delivery means for the cache, whoever sent it. */
export type WebhookMeaning =
  | { kind: 'ping' }
  /** Full ref names pushed (deleted refs left out); null when the payload does not say. */
  | { kind: 'push'; refs: string[] | null }
  | { kind: 'other' }

export type WebhookProvider = {
  name: ProviderName
  detect(headers: Headers): boolean
  event(headers: Headers): string | undefined
  delivery(headers: Headers): string | undefined
  verify(secret: string, body: Buffer, headers: Headers): ReturnType<typeof verifySignature>
  meaning(event: string | undefined, payload: unknown): WebhookMeaning
}

function single(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value
  return text === '' ? undefined : text
}

const field = (value: unknown, key: string): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined

/** `{ref}` payloads (GitHub, Gitea family, GitLab): a push to `ref`. */
function pushOfRef(payload: unknown): WebhookMeaning {
  const ref = field(payload, 'ref')
  return { kind: 'push', refs: typeof ref === 'string' ? [ref] : null }
}

/** GitHub and the Gitea family share event names and payloads; only headers differ. */
function githubLike(name: ProviderName, prefix: string, signature: string): WebhookProvider {
  const event = `x-${prefix}-event`
  return {
    name,
    detect: (headers) => single(headers[event]) !== undefined,
    event: (headers) => single(headers[event]),
    delivery: (headers) => single(headers[`x-${prefix}-delivery`]),
    // GitHub: `sha256=<hex>`; the Gitea family: the bare hex.
    verify: (secret, body, headers) =>
      verifySignature(secret, body, headers[signature], {
        name: headerName(signature),
        prefix: name === 'github' ? 'sha256=' : '',
      }),
    meaning(eventName, payload) {
      if (eventName === 'ping') return { kind: 'ping' }
      if (eventName === 'push') return pushOfRef(payload)
      return { kind: 'other' }
    },
  }
}

const headerName = (lower: string) =>
  lower.replace(
    /(^|-)([a-z])/g,
    (_all, dash: string, letter: string) => dash + letter.toUpperCase(),
  )

const gitlab: WebhookProvider = {
  name: 'gitlab',
  detect: (headers) => single(headers['x-gitlab-event']) !== undefined,
  event: (headers) => single(headers['x-gitlab-event']),
  delivery: (headers) => single(headers['x-gitlab-event-uuid']),
  verify: (secret, _body, headers) =>
    verifyToken(secret, headers['x-gitlab-token'], 'X-Gitlab-Token'),
  meaning(eventName, payload) {
    if (eventName === 'Push Hook' || eventName === 'Tag Push Hook') return pushOfRef(payload)
    // Instance-wide system hooks say what happened in the body.
    const kind = field(payload, 'object_kind') ?? field(payload, 'event_name')
    if (eventName === 'System Hook' && (kind === 'push' || kind === 'tag_push'))
      return pushOfRef(payload)
    return { kind: 'other' }
  },
}

const bitbucket: WebhookProvider = {
  name: 'bitbucket',
  detect: (headers) => single(headers['x-event-key']) !== undefined,
  event: (headers) => single(headers['x-event-key']),
  // Bitbucket Cloud: X-Request-UUID; Bitbucket Data Center: X-Request-Id.
  delivery: (headers) => single(headers['x-request-uuid']) ?? single(headers['x-request-id']),
  verify: (secret, body, headers) =>
    verifySignature(secret, body, headers['x-hub-signature'], { name: 'X-Hub-Signature' }),
  meaning(eventName, payload) {
    if (eventName === 'diagnostics:ping') return { kind: 'ping' }
    if (eventName !== 'repo:push' && eventName !== 'repo:refs_changed') return { kind: 'other' }
    const changes = field(field(payload, 'push'), 'changes')
    if (!Array.isArray(changes)) return { kind: 'push', refs: null }
    const refs: string[] = []
    for (const change of changes) {
      const created = field(change, 'new') // null: the branch or tag was deleted
      const type = field(created, 'type')
      const name = field(created, 'name')
      if (typeof name !== 'string') continue
      if (type === 'branch' || type === 'named_branch') refs.push(`refs/heads/${name}`)
      else if (type === 'tag' || type === 'annotated_tag') refs.push(`refs/tags/${name}`)
    }
    return { kind: 'push', refs }
  },
}

/** Most specific first; GitHub last, as the fallback. */
export const WEBHOOK_PROVIDERS: readonly WebhookProvider[] = [
  githubLike('forgejo', 'forgejo', 'x-forgejo-signature'),
  githubLike('gitea', 'gitea', 'x-gitea-signature'),
  githubLike('gogs', 'gogs', 'x-gogs-signature'),
  gitlab,
  bitbucket,
  githubLike('github', 'github', 'x-hub-signature-256'),
]

export function detectProvider(headers: Headers): WebhookProvider {
  return (
    WEBHOOK_PROVIDERS.find((provider) => provider.detect(headers)) ??
    (WEBHOOK_PROVIDERS.at(-1) as WebhookProvider)
  )
}
