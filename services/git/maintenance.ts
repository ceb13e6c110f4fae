import type { Mirror } from './mirror.js'

// Keeps the mirror near the size of what it serves. Every fetch leaves the
// superseded objects behind (300 commits of 100 KB took a mirror from
// 148 KB to 38 MB): once the objects have grown PRUNE_GROWTH-fold since the
// last prune, everything no ref reaches is dropped.

/** The served snapshot's commit, kept through pruning. */
const SERVED_REF = 'refs/docker-cd/served'
/** Prune once the objects take this many times their size after the last prune. */
const PRUNE_GROWTH = 2

export function createMirrorMaintenance(mirror: Mirror) {
  const { git } = mirror
  /** Object KiB after the last prune, the growth reference. */
  let prunedKiB: number | undefined
  /** Built by this process and not fetched into yet: its first fetch is the reference. */
  let freshMirror = false
  mirror.onRebuilt(() => {
    prunedKiB = undefined
    freshMirror = true
  })

  /** Disk use of the mirror's objects (loose and packed), in KiB. */
  async function objectsKiB(signal?: AbortSignal): Promise<number> {
    const { stdout } = await git(['count-objects', '-v'], signal)
    const field = (name: string) =>
      Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(stdout.toString('utf8'))?.[1] ?? 0)
    return field('size') + field('size-pack')
  }

  /** After every fetch: a new mirror's first fetch is the size reference (nothing superseded yet). */
  async function fetched(signal?: AbortSignal): Promise<void> {
    if (!freshMirror) return
    prunedKiB = await objectsKiB(signal)
    freshMirror = false
  }

  /**
   * Called before a fetch, while the snapshot being served is `served`:
   * once the objects have grown PRUNE_GROWTH-fold since the last prune (or
   * on the first call of this process), everything no ref reaches is
   * dropped, keeping the fetched target and `served` (they differ after a
   * refresh that fetched and then failed). Skipped while a consumer reads
   * from the mirror (an archive of an older snapshot may be streaming); the
   * next refresh tries again. Runs in the refresh queue, so never beside a
   * fetch. Resolves true when it pruned.
   */
  async function pruneMirror(served: string | null, signal?: AbortSignal): Promise<boolean> {
    if (mirror.activeReads() > 0 || !(await mirror.usable())) return false
    const size = await objectsKiB(signal)
    if (prunedKiB !== undefined && size <= prunedKiB * PRUNE_GROWTH) return false
    if (mirror.activeReads() > 0) return false
    const kept = served
      ? await git(['update-ref', SERVED_REF, served], signal).then(
          () => true,
          () => false, // not in the mirror (rebuilt since): nothing to keep
        )
      : false
    if (!kept) await git(['update-ref', '-d', SERVED_REF], signal)
    await git(['repack', '-a', '-d', '-q'], signal)
    await git(['prune', '--expire=now'], signal)
    prunedKiB = await objectsKiB(signal)
    return true
  }

  return { fetched, pruneMirror }
}
