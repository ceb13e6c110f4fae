import { createHash } from 'node:crypto'
import { type Dispatcher, request } from 'undici'
import { readAtMost } from '../../base/index.js'
import type { RegistryCredentials } from './credentials.js'
import type { ImageRef } from './image-ref.js'

// Asks a registry what a tag points to now, without downloading any layer:
// a manifest `HEAD` (distribution spec, "Checking if content exists"), whose
// `Docker-Content-Digest` header is the digest the engine records in an
// image's RepoDigests when it pulls that tag. The Accept header names every
// manifest kind (OCI index, Docker manifest list, Docker and OCI image
// manifests), so a multi-arch tag answers with its index's digest — the one
// the engine records for a pull by tag — and digests compare consistently.
// On Docker Hub a HEAD does not count against the pull rate limit (a GET of
// a manifest does). A registry that leaves the header out is asked with a
// GET of the manifest alone (a few KiB) and the digest computed from its
// bytes.
//
// Auth, as the engine does it: asked without credentials first; a 401
// names the scheme in `WWW-Authenticate`:
// - `Bearer realm=…,service=…` (Docker Hub, GHCR, most hosted registries):
//   a token from the realm for `repository:<name>:pull`, anonymously or with
//   the Docker config's credentials as Basic, kept until it expires;
// - `Basic` (a registry with an htpasswd file): the credentials as Basic.
// Redirects are not followed (an Authorization header must not travel to
// another host), and no credential or token ever appears in a result, an
// error or a log line: reasons are built from status codes and the
// registry's own error code.

export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
] as const

export type RemoteDigest =
  | { ok: true; digest: string; mediaType?: string; requests: number }
  | {
      ok: false
      /** auth: refused (401/403); missing: no such tag (404); unreachable: network, timeout, 5xx, 429. */
      kind: 'auth' | 'missing' | 'unreachable'
      reason: string
      requests: number
    }

export type RegistryClientOptions = {
  /** `http` for a registry on loopback (as the engine trusts 127.0.0.0/8 over plain HTTP), else `https`. */
  schemeOf?: (apiHost: string) => 'http' | 'https'
  credentials: (registry: string) => Promise<RegistryCredentials | undefined>
  timeoutMs?: number
  dispatcher?: Dispatcher
  now?: () => number
}

type Challenge = { scheme: string; params: Record<string, string> }

/** `Bearer realm="…",service="…"` → its scheme and parameters. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header)
  if (!match?.[1]) return undefined
  const params: Record<string, string> = {}
  for (const part of (match[2] ?? '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g))
    params[(part[1] as string).toLowerCase()] = part[2] ?? part[3] ?? ''
  return { scheme: match[1].toLowerCase(), params }
}

/** Loopback registries speak plain HTTP, as the engine allows without configuration. */
export function defaultScheme(apiHost: string): 'http' | 'https' {
  const host = apiHost
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
  return host === 'localhost' || /^127\./.test(host) || host === '::1' ? 'http' : 'https'
}

/** Bounds on what a registry's answers may make us hold (a hostile one could stream for ever). */
const ERROR_BODY_MAX = 16 * 1024
const TOKEN_BODY_MAX = 64 * 1024
const MANIFEST_MAX = 4 * 1024 * 1024

const basic = (credentials: RegistryCredentials) =>
  `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`

/** The registry's error in a few words: its first error code (distribution's JSON), else the status. */
async function errorWords(body: Dispatcher.ResponseData['body'], status: number): Promise<string> {
  let text = ''
  try {
    text = (await readAtMost(body, ERROR_BODY_MAX)).bytes.toString('utf8')
  } catch {
    // The status is enough.
  }
  try {
    const parsed = JSON.parse(text) as { errors?: { code?: string }[] }
    const code = parsed.errors?.[0]?.code
    if (typeof code === 'string' && /^[A-Z_]{1,64}$/.test(code)) return `${status} ${code}`
  } catch {
    // Not the registry's JSON.
  }
  return String(status)
}

export function createRegistryClient(options: RegistryClientOptions) {
  const timeoutMs = options.timeoutMs ?? 15_000
  const now = options.now ?? Date.now
  const schemeOf = options.schemeOf ?? defaultScheme
  /** Bearer tokens by realm, service and scope, until shortly before they expire. */
  const tokens = new Map<string, { token: string; until: number }>()

  async function call(
    method: 'HEAD' | 'GET',
    url: string,
    authorization: string | undefined,
    accept: string,
  ) {
    return request(url, {
      method,
      headers: {
        accept,
        'user-agent': 'docker-cd',
        ...(authorization ? { authorization } : {}),
      },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    })
  }

  /** A Bearer token for the challenge's realm and this repository's pull scope. */
  async function bearer(
    challenge: Challenge,
    ref: ImageRef,
    credentials: RegistryCredentials | undefined,
  ): Promise<
    { token: string; requests: number } | { problem: string; auth: boolean; requests: number }
  > {
    const realm = challenge.params.realm
    if (!realm || !/^https?:\/\//.test(realm))
      return {
        problem: 'the registry asked for a token without a usable realm',
        auth: false,
        requests: 0,
      }
    const scope = `repository:${ref.repository}:pull`
    const url = new URL(realm)
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service)
    url.searchParams.set('scope', scope)
    const key = `${url.href} ${credentials?.username ?? ''}`
    const kept = tokens.get(key)
    if (kept && kept.until > now()) return { token: kept.token, requests: 0 }
    const res = await call(
      'GET',
      url.href,
      credentials ? basic(credentials) : undefined,
      'application/json',
    )
    if (res.statusCode !== 200) {
      const words = await errorWords(res.body, res.statusCode)
      return {
        problem: `the registry's token service answered ${words}${credentials ? '' : ' (no credentials for it in the Docker config)'}`,
        auth: res.statusCode === 401 || res.statusCode === 403,
        requests: 1,
      }
    }
    const answer = await readAtMost(res.body, TOKEN_BODY_MAX)
    if (!answer.whole)
      return {
        problem: 'the registry’s token service answered more than 64 KiB',
        auth: false,
        requests: 1,
      }
    const body = JSON.parse(answer.bytes.toString('utf8')) as {
      token?: string
      access_token?: string
      expires_in?: number
    }
    const token = body.token ?? body.access_token
    if (!token)
      return {
        problem: 'the registry’s token service answered without a token',
        auth: false,
        requests: 1,
      }
    // Tokens live 60 s unless said otherwise (the token spec's minimum); kept a little less.
    const lifetimeS =
      typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60
    tokens.set(key, { token, until: now() + Math.max(0, lifetimeS - 10) * 1000 })
    return { token, requests: 1 }
  }

  /** What `ref`'s tag points to now on its registry. */
  async function remoteDigest(ref: ImageRef): Promise<RemoteDigest> {
    let requests = 0
    const target = ref.tag ?? ref.digest
    if (!target) return { ok: false, kind: 'missing', reason: 'no tag to ask about', requests }
    const url = `${schemeOf(ref.apiHost)}://${ref.apiHost}/v2/${ref.repository}/manifests/${encodeURIComponent(target)}`
    const accept = MANIFEST_TYPES.join(', ')
    const where = `${ref.registry}/${ref.repository}:${target}`
    try {
      let authorization: string | undefined
      let res = await call('HEAD', url, undefined, accept)
      requests++
      if (res.statusCode === 401) {
        await res.body.dump()
        const challenge = parseChallenge(res.headers['www-authenticate'] as string | undefined)
        const credentials = await options.credentials(ref.registry)
        if (challenge?.scheme === 'bearer') {
          const got = await bearer(challenge, ref, credentials)
          requests += got.requests
          if ('problem' in got)
            return {
              ok: false,
              kind: got.auth ? 'auth' : 'unreachable',
              reason: `${where}: ${got.problem}`,
              requests,
            }
          authorization = `Bearer ${got.token}`
        } else if (challenge?.scheme === 'basic' && credentials) {
          authorization = basic(credentials)
        } else {
          return {
            ok: false,
            kind: 'auth',
            reason: `${where}: the registry wants credentials (${challenge?.scheme ?? 'no scheme named'}) and the Docker config has none for ${ref.registry}`,
            requests,
          }
        }
        res = await call('HEAD', url, authorization, accept)
        requests++
      }
      const status = res.statusCode
      if (status === 200) {
        await res.body.dump()
        const digest = res.headers['docker-content-digest']
        const mediaType = String(res.headers['content-type'] ?? '')
          .split(';')[0]
          ?.trim()
        if (typeof digest === 'string' && digest.startsWith('sha256:'))
          return { ok: true, digest, ...(mediaType ? { mediaType } : {}), requests }
        // No digest header: the manifest itself (small), hashed as the engine would.
        const got = await call('GET', url, authorization, accept)
        requests++
        if (got.statusCode !== 200) {
          const words = await errorWords(got.body, got.statusCode)
          return {
            ok: false,
            kind: 'unreachable',
            reason: `${where}: the registry answered ${words}`,
            requests,
          }
        }
        const manifest = await readAtMost(got.body, MANIFEST_MAX)
        if (!manifest.whole)
          return {
            ok: false,
            kind: 'unreachable',
            reason: `${where}: the registry's manifest is larger than 4 MiB`,
            requests,
          }
        const bytes = manifest.bytes
        return {
          ok: true,
          digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
          ...(mediaType ? { mediaType } : {}),
          requests,
        }
      }
      const words = await errorWords(res.body, status)
      if (status === 401 || status === 403)
        return {
          ok: false,
          kind: 'auth',
          reason: `${where}: the registry refused (${words})`,
          requests,
        }
      if (status === 404)
        return {
          ok: false,
          kind: 'missing',
          reason: `${where}: no such tag on the registry (${words})`,
          requests,
        }
      if (status >= 300 && status < 400)
        return {
          ok: false,
          kind: 'unreachable',
          reason: `${where}: the registry redirected (${status}); redirects are not followed`,
          requests,
        }
      return {
        ok: false,
        kind: 'unreachable',
        reason: `${where}: the registry answered ${words}`,
        requests,
      }
    } catch (error) {
      const err = error as Error & { code?: string }
      const why =
        err.name === 'TimeoutError' || err.name === 'AbortError'
          ? `no answer within ${Math.round(timeoutMs / 1000)} s`
          : (err.code ?? err.name)
      return {
        ok: false,
        kind: 'unreachable',
        reason: `${where}: the registry cannot be reached (${why})`,
        requests,
      }
    }
  }

  return { remoteDigest }
}

export type RegistryClient = ReturnType<typeof createRegistryClient>
