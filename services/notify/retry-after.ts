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
  // An HTTP date always names the day or month; without a letter it is not
  // one (Date.parse would read '-3' as a year).
  if (!/[A-Za-z]/.test(value)) return undefined
  const date = Date.parse(value)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}
