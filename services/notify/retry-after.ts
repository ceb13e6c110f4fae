// Retry-After (RFC 9110 §10.2.3) is either a number of seconds or an HTTP
// date; 429 and 503 answers carry it, and Slack and Discord rate limits rely
// on it being honoured. Anything unreadable is ignored (the normal back-off
// applies) rather than trusted.

export function retryAfterMs(
  header: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim()
  if (value === undefined || value === '') return undefined
  if (/^\d+$/.test(value)) return Number(value) * 1000
  if (/^\d+\.\d+$/.test(value)) return Math.ceil(Number(value) * 1000)
  const date = Date.parse(value)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}
