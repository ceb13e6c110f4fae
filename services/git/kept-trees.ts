import { stackFileKey } from '../base/index.js'
import type { Mirror } from './mirror.js'

// The tree each stack last deployed, kept reachable in the mirror by a ref
// of its own, so pruning (maintenance.ts) never drops what a rollback needs
// while the repository has moved on. A ref may name a tree directly. The
// ref is named by a hash of the stack's name (stackFileKey): any directory
// name makes a valid ref that way, and a long one still fits the file
// system (a ref is a file; the name in hex, as earlier versions had it,
// made 400 characters of a 200-character name). A mirror rebuilt from
// scratch has none: a rollback then has nothing to go back to and says so.

const refOf = (stack: string) => `refs/docker-cd/deployed/${stackFileKey(stack)}`
/** Where earlier versions kept it; dropped once the new ref holds the tree. */
const legacyRefOf = (stack: string) =>
  `refs/docker-cd/deployed/${Buffer.from(stack).toString('hex')}`

export function createKeptTrees(mirror: Pick<Mirror, 'git'>) {
  const dropLegacy = (stack: string) =>
    mirror.git(['update-ref', '-d', legacyRefOf(stack)]).catch(() => {}) // absent, or too long to exist
  return {
    /** Keeps `treeOid` (the stack's last good tree) through pruning. */
    async keepTree(stack: string, treeOid: string): Promise<void> {
      await mirror.git(['update-ref', refOf(stack), treeOid])
      await dropLegacy(stack)
    },
    /** The stack left docker-cd's hands: its tree may go. */
    async releaseTree(stack: string): Promise<void> {
      await mirror.git(['update-ref', '-d', refOf(stack)])
      await dropLegacy(stack)
    },
  }
}
