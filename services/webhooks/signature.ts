import { createHmac, timingSafeEqual } from 'node:crypto'
import { secretsEqual } from '../base/index.js'

// How Git hosts sign webhook deliveries with the shared secret:
// - an HMAC-SHA256 of the raw body, hex, in a header; GitHub and Bitbucket
//   prefix it with `sha256=`, Gitea, Forgejo and Gogs send the bare hex;
// - GitLab sends the secret itself (X-Gitlab-Token), compared in constant
//   time.

type SignatureCheck = { valid: true } | { valid: false; reason: string }

/** GitHub's form: `sha256=` + hex HMAC-SHA256 of the body (test helpers sign with it). */
export function signBody(secret: string, body: Buffer | string, prefix = 'sha256='): string {
  return `${prefix}${createHmac('sha256', secret).update(body).digest('hex')}`
}

/** One header value, or why there is none usable. */
function oneHeader(
  header: string | string[] | undefined,
  name: string,
): { value: string } | { reason: string } {
  if (header === undefined || header === '') return { reason: `missing ${name} header` }
  if (Array.isArray(header)) return { reason: `more than one ${name} header` }
  return { value: header.trim() }
}

/** Checks an HMAC-SHA256 header: `<prefix><64 hex>` over the raw body. */
export function verifySignature(
  secret: string,
  body: Buffer,
  header: string | string[] | undefined,
  { name = 'X-Hub-Signature-256', prefix = 'sha256=' }: { name?: string; prefix?: string } = {},
): SignatureCheck {
  const found = oneHeader(header, name)
  if ('reason' in found) return { valid: false, reason: found.reason }
  const hex = found.value.toLowerCase().startsWith(prefix) ? found.value.slice(prefix.length) : ''
  if (!/^[0-9a-f]{64}$/i.test(hex)) {
    return { valid: false, reason: `malformed ${name} header (expected ${prefix}<64 hex>)` }
  }
  const expected = createHmac('sha256', secret).update(body).digest()
  // Same length by construction (64 hex), so timingSafeEqual cannot throw.
  if (!timingSafeEqual(expected, Buffer.from(hex, 'hex')))
    return { valid: false, reason: 'signature does not match' }
  return { valid: true }
}

/** Checks a header that carries the secret itself (GitLab's X-Gitlab-Token). */
export function verifyToken(
  secret: string,
  header: string | string[] | undefined,
  name: string,
): SignatureCheck {
  const found = oneHeader(header, name)
  if ('reason' in found) return { valid: false, reason: found.reason }
  if (!secretsEqual(found.value, secret)) return { valid: false, reason: `${name} does not match` }
  return { valid: true }
}
