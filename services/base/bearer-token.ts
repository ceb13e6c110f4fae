import { secretsEqual } from './constant-time.js'

/** Does `Authorization: Bearer <token>` carry the configured API token? */
export function bearerTokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '')
  return match?.[1] !== undefined && secretsEqual(match[1], token)
}
