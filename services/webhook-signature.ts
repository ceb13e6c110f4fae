import { createHmac, timingSafeEqual } from 'node:crypto'

// GitHub's X-Hub-Signature-256: `sha256=` + hex HMAC-SHA256 of the raw body.
const SIGNATURE = /^sha256=([0-9a-f]{64})$/i

type SignatureCheck = { valid: true } | { valid: false; reason: string }

export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

export function verifySignature(
  secret: string,
  body: Buffer,
  header: string | string[] | undefined,
): SignatureCheck {
  if (header === undefined || header === '')
    return { valid: false, reason: 'missing X-Hub-Signature-256 header' }
  if (Array.isArray(header))
    return { valid: false, reason: 'more than one X-Hub-Signature-256 header' }
  const match = SIGNATURE.exec(header.trim())
  if (!match)
    return {
      valid: false,
      reason: 'malformed X-Hub-Signature-256 header (expected sha256=<64 hex>)',
    }
  const expected = createHmac('sha256', secret).update(body).digest()
  const given = Buffer.from(match[1] as string, 'hex')
  // Same length by construction (the regex), so timingSafeEqual cannot throw.
  if (!timingSafeEqual(expected, given)) return { valid: false, reason: 'signature does not match' }
  return { valid: true }
}
