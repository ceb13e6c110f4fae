import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * Compares two secrets in constant time. Both are hashed first, so neither
 * their content nor their length shows in the timing.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest()
  return timingSafeEqual(digest(given), digest(expected))
}
