import type { Mirror } from './mirror.js'

// The tree each stack last deployed, kept reachable in the mirror by a ref
// of its own, so pruning (maintenance.ts) never drops what a rollback needs
// while the repository has moved on. A ref may name a tree directly; the
// stack name is hex-encoded (any directory name is a valid ref that way).
// A mirror rebuilt from scratch has none: a rollback then has nothing to
// go back to and says so.

const refOf = (stack: string) => `refs/docker-cd/deployed/${Buffer.from(stack).toString('hex')}`

export function createKeptTrees(mirror: Pick<Mirror, 'git'>) {
  return {
    /** Keeps `treeOid` (the stack's last good tree) through pruning. */
    async keepTree(stack: string, treeOid: string): Promise<void> {
      await mirror.git(['update-ref', refOf(stack), treeOid])
    },
    /** The stack left docker-cd's hands: its tree may go. */
    async releaseTree(stack: string): Promise<void> {
      await mirror.git(['update-ref', '-d', refOf(stack)])
    },
  }
}
