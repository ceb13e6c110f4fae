// Strong entity tags for content that is addressed by a hash, and the
// If-None-Match check (RFC 9110: a list, `*`, weak tags compared weakly).

export const etagOf = (hash: string) => `"${hash}"`

export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag)
}
