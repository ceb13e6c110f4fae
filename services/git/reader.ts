import { createKeptTrees } from './kept-trees.js'
import { createMirrorMaintenance } from './maintenance.js'
import { createMirror, type MirrorOptions } from './mirror.js'
import { createObjectReader } from './object-reader.js'
import { createRemote } from './remote.js'
import { createStackCommits } from './stack-commits.js'

export { describeRevision, pickRemoteRef, type ResolvedRevision } from './remote.js'

// Everything this service asks of Git, as one reader over one bare mirror:
// resolve the configured revision on the remote and fetch it shallowly
// (remote.ts), read trees and blobs in batches (object-reader.ts), and keep
// the mirror's size in check (maintenance.ts), and keep each stack's last
// deployed tree through pruning (kept-trees.ts), and find the commit that last changed each stack
// (stack-commits.ts). The mirror itself — where it
// lives, how git runs in it, how it is rebuilt — is mirror.ts.

export function createGitReader(options: MirrorOptions) {
  const mirror = createMirror(options)
  const maintenance = createMirrorMaintenance(mirror)
  const remote = createRemote(mirror, maintenance.fetched)
  const objects = createObjectReader(mirror)
  const kept = createKeptTrees(mirror)
  const stackCommits = createStackCommits(mirror, async (revision, signal) =>
    (await objects.readByOid([revision], signal)).get(revision),
  )
  return {
    resolveRevision: remote.resolveRevision,
    fetchRevision: remote.fetchRevision,
    pruneMirror: maintenance.pruneMirror,
    readDeployTree: objects.readDeployTree,
    readByOid: objects.readByOid,
    hashBlobs: objects.hashBlobs,
    listTree: objects.listTree,
    changedFiles: objects.changedFiles,
    streamObjects: objects.streamObjects,
    keepTree: kept.keepTree,
    releaseTree: kept.releaseTree,
    stackCommits: stackCommits.find,
  }
}

export type GitReader = ReturnType<typeof createGitReader>
