import { createHash, timingSafeEqual } from 'node:crypto'

// Checks an `Authorization: Bearer <token>` header against the configured
// API token in constant time (both sides hashed first, so neither the
// content nor the length of the token leaks through timing).

const digest = (text: string) => createHash('sha256').update(text).digest()

export function bearerTokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '')
  if (!match?.[1]) return false
  return timingSafeEqual(digest(match[1]), digest(token))
}
