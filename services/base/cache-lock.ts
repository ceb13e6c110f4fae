import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import lockfile from 'proper-lockfile'
import { describeFsError, mkdirFailureCode } from './fs-error.js'

// One writer per cache dir. Two instances on one GIT_CACHE_DIR fetch into
// the same mirror at once and fail each other's refreshes, so the second
// refuses to start. proper-lockfile keeps the lock fresh (its mtime moves
// every 5 s); a lock left by a killed process is stale after 10 s and taken
// over, so a restart after a crash waits at most that long.

const STALE_MS = 10_000

class CacheDirLockedError extends Error {
  constructor(cacheDir: string) {
    super(
      `GIT_CACHE_DIR ${cacheDir} is in use by another docker-cd instance; give each instance its own GIT_CACHE_DIR`,
    )
    this.name = 'CacheDirLockedError'
  }
}

/** Takes the cache dir's lock; resolves with a synchronous release (safe in an exit handler). */
export async function lockCacheDir(
  cacheDir: string,
  onCompromised: (error: Error) => void,
): Promise<() => void> {
  try {
    await mkdir(cacheDir, { recursive: true })
  } catch (error) {
    const code = await mkdirFailureCode(cacheDir, (error as NodeJS.ErrnoException).code)
    throw new Error(`GIT_CACHE_DIR ${cacheDir} cannot be created: ${describeFsError(code)}`)
  }
  const options = { lockfilePath: join(cacheDir, 'docker-cd.lock'), realpath: false }
  try {
    await lockfile.lock(cacheDir, {
      ...options,
      stale: STALE_MS,
      // Long enough for a dead owner's lock to go stale, then give up.
      retries: { retries: 12, factor: 1, minTimeout: 1000, maxTimeout: 1000 },
      onCompromised,
    })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ELOCKED') throw new CacheDirLockedError(cacheDir)
    throw new Error(
      `GIT_CACHE_DIR ${cacheDir} cannot be locked: ${code ? describeFsError(code) : (error as Error).message}`,
    )
  }
  let released = false
  return () => {
    if (released) return
    released = true
    try {
      lockfile.unlockSync(cacheDir, options)
    } catch {
      // Already gone (compromised, or removed by hand): nothing to release.
    }
  }
}
