// A failed connection reduced to words an operator can act on ('connection
// refused', 'host not found'): a notification's send, the Docker engine.
// Error messages are never passed on: undici's and nodemailer's can quote
// the URL or the server's greeting, and a notification URL is a secret.
// Only error codes are read.

const WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer (headers timeout)',
  UND_ERR_BODY_TIMEOUT: 'answer stalled (body timeout)',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'connection closed',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted (self-signed chain)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS certificate not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate is for another host',
  EPROTO: 'TLS handshake failed',
}

/** TLS failures do not mend themselves within a retry's back-off. */
const NOT_RETRIED = new Set([
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** The error codes along an error's cause chain, outermost first. */
function codesOf(error: unknown): string[] {
  const codes: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string') codes.push(code)
    current = (current as { cause?: unknown }).cause
  }
  return codes
}

/** Words for a network-level failure, and whether trying again may help. */
export function networkFailure(error: unknown): { reason: string; retry: boolean } {
  const codes = codesOf(error)
  const known = codes.find((code) => code in WORDS)
  if (known) return { reason: WORDS[known] as string, retry: !NOT_RETRIED.has(known) }
  const code = codes.find((candidate) => /^[A-Z][A-Z0-9_]{1,40}$/.test(candidate))
  return { reason: code ? `network error (${code})` : 'network error', retry: true }
}

/** `5s`, `250ms`, `1.5s`: a duration as people write it. */
export function durationWords(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const seconds = ms / 1000
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)}s`
}
