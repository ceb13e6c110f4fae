import type { GitReader, ResolvedRevision, StackCommit } from '../git/index.js'
import { GitError, parseTree } from '../git/index.js'
import type { DesiredStack, DesiredState, Snapshot } from './snapshot.js'
import { pickComposeFile, stackDirectories } from './stack-discovery.js'

// One refresh as an ordered list of small named steps, each git call bounded
// by GIT_TIMEOUT, each skipped when what it would produce is already known:
//
//   resolve            ls-remote the configured revision
//   (stop)             the remote commit is the cached one
//   prune-mirror       drop superseded objects, once they have piled up
//   fetch              shallow fetch into the bare mirror
//   read-deploy-tree   the deploy directory's tree at that commit
//   (stop)             same tree id: the stacks are the previous ones
//   read-stack-trees   only stack directories whose tree id changed
//   hash-compose-files only Compose blobs not seen before
//   find-stack-commits only for stacks whose tree is new: the commit that
//                      last changed each (git/stack-commits.ts; a failure
//                      is a warning, the stack then carries the head)
//
// The steps compute (and keep the mirror); they never write the snapshot:
// the refresh controller turns their
// result into the next one.

export type RefreshStep =
  | 'resolve'
  | 'fetch'
  | 'read-deploy-tree'
  | 'read-stack-trees'
  | 'hash-compose-files'
  | 'find-stack-commits'
  | 'rebuild-mirror'
  | 'prune-mirror'

export type StepsResult =
  | { kind: 'unchanged'; revision: string; steps: RefreshStep[] }
  | {
      kind: 'read'
      state: DesiredState
      hashed: number
      /** Stack directories left out: names not valid UTF-8, escaped. */
      skipped: string[]
      /** What went wrong without failing the refresh (mirror maintenance). */
      warnings: string[]
      steps: RefreshStep[]
    }

export function createRefreshSteps(deps: { git: GitReader; deployDir: string }) {
  const { git, deployDir } = deps
  /** A stack directory's path in the repository (what `git log` is asked about). */
  const inRepository = (path: string) => (deployDir ? `${deployDir}/${path}` : path)

  /**
   * Names, on each stack whose tree is new (not the previous snapshot's,
   * not a remembered stamp's), the commit that last changed it.
   */
  async function findStackCommits(
    state: DesiredState,
    resolved: ResolvedRevision,
    previous: Pick<Snapshot, 'stacks' | 'revision'>,
    stamped: ReadonlyMap<string, string>,
    steps: RefreshStep[],
    warnings: string[],
    signal?: AbortSignal,
  ): Promise<DesiredState> {
    // A stack whose last lookup failed is not known: looked up again.
    const known = new Set(
      previous.stacks
        .filter((stack) => !stack.lookupPending)
        .map((stack) => `${stack.path}\0${stack.treeOid}`),
    )
    // A remembered stamp stands only for a path the previous snapshot lacks
    // (as in refreshApplied): a stack back to its startup tree is new again.
    const previousPaths = new Set(previous.stacks.map((stack) => stack.path))
    const fresh = state.stacks.filter(
      (stack) =>
        !known.has(`${stack.path}\0${stack.treeOid}`) &&
        (previousPaths.has(stack.path) || stamped.get(stack.path) !== stack.treeOid),
    )
    if (fresh.length === 0) return state
    const retried = new Set(
      previous.stacks
        .filter((stack) => stack.lookupPending)
        .map((stack) => `${stack.path}\0${stack.treeOid}`),
    )
    steps.push('find-stack-commits')
    let failed = false
    const found = await git
      .stackCommits(
        {
          revision: state.revision,
          resolved,
          // Looked up again, a stack the head did not change: the one-commit answer would name the head.
          previousRevision: fresh.some((stack) => retried.has(`${stack.path}\0${stack.treeOid}`))
            ? null
            : previous.revision,
          directories: fresh.map((stack) => inRepository(stack.path)),
        },
        signal,
      )
      .catch((error) => {
        if (error instanceof GitError && error.code === 'aborted') throw error
        warnings.push(
          `find-stack-commits failed (new stacks are labelled with the fetched commit, as at a first look, and looked up again at the next new revision): ${error instanceof Error ? error.message : error}`,
        )
        failed = true
        return new Map<string, StackCommit>()
      })
    const looked = new Set(fresh.map((stack) => stack.path))
    return {
      ...state,
      stacks: state.stacks.map((stack) => {
        const changedBy = found.get(inRepository(stack.path))
        if (changedBy) return { ...stack, changedBy }
        return failed && looked.has(stack.path) ? { ...stack, lookupFailed: true as const } : stack
      }),
    }
  }

  async function readDesiredState(
    commit: string,
    resolved: ResolvedRevision,
    previous: Pick<Snapshot, 'deployTreeOid' | 'stacks'>,
    steps: RefreshStep[],
    signal?: AbortSignal,
  ): Promise<{ state: DesiredState; hashed: number; skipped: string[] }> {
    steps.push('read-deploy-tree')
    const deployTree = await git.readDeployTree(commit, deployDir, signal)
    const base = { revision: commit, refType: resolved.refType, deployTreeOid: deployTree.oid }
    const { directories, skipped } = stackDirectories(deployTree.entries)
    if (deployTree.oid === previous.deployTreeOid) {
      return { state: { ...base, stacks: previous.stacks.map(withoutStatus) }, hashed: 0, skipped }
    }

    // Stack directories whose tree id is unchanged keep their previous result.
    const previousByTree = new Map(
      previous.stacks.map((stack) => [`${stack.path}\0${stack.treeOid}`, stack]),
    )
    const changedTrees = directories.filter((dir) => !previousByTree.has(`${dir.name}\0${dir.oid}`))
    if (changedTrees.length > 0) steps.push('read-stack-trees')
    const trees = await git.readByOid(unique(changedTrees.map((dir) => dir.oid)), signal)

    const stacks: DesiredStack[] = []
    const toHash: Omit<DesiredStack, 'composeHash'>[] = []
    for (const dir of directories) {
      const kept = previousByTree.get(`${dir.name}\0${dir.oid}`)
      if (kept) {
        stacks.push(withoutStatus(kept))
        continue
      }
      const compose = pickComposeFile(parseTree(trees.get(dir.oid) as Buffer))
      if (compose)
        toHash.push({
          path: dir.name,
          composeFile: compose.name,
          treeOid: dir.oid,
          blobOid: compose.oid,
        })
    }

    // A Compose blob seen before (moved, or its directory changed elsewhere) is not re-hashed.
    const knownHashes = new Map(previous.stacks.map((stack) => [stack.blobOid, stack.composeHash]))
    const unseen = unique(toHash.filter((s) => !knownHashes.has(s.blobOid)).map((s) => s.blobOid))
    if (unseen.length > 0) steps.push('hash-compose-files')
    const hashes = await git.hashBlobs(unseen, signal)
    for (const stack of toHash) {
      const composeHash = knownHashes.get(stack.blobOid) ?? (hashes.get(stack.blobOid) as string)
      stacks.push({ ...stack, composeHash })
    }
    return { state: { ...base, stacks }, hashed: hashes.size, skipped }
  }

  async function fetchAndRead(
    resolved: ResolvedRevision,
    previous: Pick<Snapshot, 'deployTreeOid' | 'stacks' | 'revision'>,
    stamped: ReadonlyMap<string, string>,
    steps: RefreshStep[],
    signal?: AbortSignal,
  ) {
    // Maintenance never fails a refresh (bar shutdown); a failure is a warning.
    const warnings: string[] = []
    const pruned = await git.pruneMirror(previous.revision, signal).catch((error) => {
      if (error instanceof GitError && error.code === 'aborted') throw error
      warnings.push(`prune-mirror failed: ${error instanceof Error ? error.message : error}`)
      return false
    })
    if (pruned) steps.push('prune-mirror')
    steps.push('fetch')
    const commit = await git.fetchRevision(resolved, signal)
    const read = await readDesiredState(commit, resolved, previous, steps, signal)
    const state = await findStackCommits(
      read.state,
      resolved,
      previous,
      stamped,
      steps,
      warnings,
      signal,
    )
    return { ...read, state, warnings }
  }

  /** Runs the steps against the previous snapshot; throws a GitError when a step fails. */
  /** `stamped`: each stack path's tree remembered from before a restart (stack-history.ts). */
  return async function runSteps(
    previous: Snapshot,
    signal?: AbortSignal,
    stamped: ReadonlyMap<string, string> = new Map(),
  ): Promise<StepsResult> {
    const steps: RefreshStep[] = ['resolve']
    const resolved = await git.resolveRevision(signal)
    if (resolved.sha === previous.revision) {
      return { kind: 'unchanged', revision: resolved.sha, steps }
    }
    try {
      return {
        kind: 'read',
        steps,
        ...(await fetchAndRead(resolved, previous, stamped, steps, signal)),
      }
    } catch (error) {
      if (!(error instanceof GitError && error.code === 'corrupt_mirror')) throw error
      // A broken mirror is only a cache: the reader rebuilds it on the next
      // fetch. Try once more, trusting nothing the old mirror produced.
      steps.push('rebuild-mirror')
      const empty = { deployTreeOid: null, stacks: [], revision: null }
      return {
        kind: 'read',
        steps,
        ...(await fetchAndRead(resolved, empty, stamped, steps, signal)),
      }
    }
  }
}

export type RefreshSteps = ReturnType<typeof createRefreshSteps>

/** What Git says of a stack, without the cache's own status and stamps. */
function withoutStatus(stack: DesiredStack): DesiredStack {
  const { path, composeFile, composeHash, treeOid, blobOid } = stack
  return { path, composeFile, composeHash, treeOid, blobOid }
}

function unique(values: string[]): string[] {
  return [...new Set(values)]
}
