import { existsSync } from 'node:fs'
import { mkdir, rmdir } from 'node:fs/promises'
import { dirname } from 'node:path'

// What a failed write to the cache dir means, in words an operator acts
// on, with the errno code kept for searching.

const MEANINGS: Record<string, string> = {
  EROFS: 'read-only file system: mount a writable volume there',
  EACCES: `permission denied: make it writable for uid ${process.getuid?.() ?? '?'}`,
  EPERM: `permission denied: make it writable for uid ${process.getuid?.() ?? '?'}`,
  ENOSPC: 'no space left on device: free space on that volume',
  EDQUOT: 'disk quota exceeded: free space on that volume',
  ENOTDIR: 'a file is in the way: a path component is not a directory',
}

export function describeFsError(code: string | undefined): string {
  return code && MEANINGS[code] ? `${MEANINGS[code]} (${code})` : `(${code ?? 'unknown error'})`
}

/**
 * `mkdir -p` reports ENOENT when a missing parent cannot be created (say, on
 * a read-only mount); creating the first missing level alone tells why.
 */
export async function mkdirFailureCode(
  dir: string,
  code: string | undefined,
): Promise<string | undefined> {
  if (code !== 'ENOENT') return code
  let missing = dir
  while (!existsSync(dirname(missing)) && dirname(missing) !== missing) missing = dirname(missing)
  try {
    await mkdir(missing)
    await rmdir(missing)
    return code
  } catch (error) {
    return (error as NodeJS.ErrnoException).code
  }
}
