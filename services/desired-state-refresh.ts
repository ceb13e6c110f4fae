import { createHash } from 'node:crypto'
import type { RefreshTrigger } from '../schemas/refresh.js'
import type { DesiredState, DesiredStateStore, Snapshot, Stack } from './desired-state-store.js'
import { GitError } from './git-command.js'
import { parseTree } from './git-objects.js'
import type { GitReader, ResolvedRevision } from './git-reader.js'
import { pickComposeFile, stackDirectories } from './stack-discovery.js'

// One refresh as an ordered list of small steps (resolve → skip if unchanged
// → fetch → read changed trees → hash changed blobs → swap snapshot), each git
// call bounded by GIT_TIMEOUT. Work is proportional to what changed.

export type RefreshResult = {
  revision: string
  changed: boolean
  stackCount: number
  /** How many Compose blobs had to be read and hashed. */
  hashed: number
}

export function createDesiredStateRefresh(deps: {
  git: GitReader
  store: DesiredStateStore
  deployDir: string
}) {
  const { git, store, deployDir } = deps

  async function readDesiredState(
    commit: string,
    resolved: ResolvedRevision,
    previous: Snapshot,
    signal?: AbortSignal,
  ): Promise<{ state: DesiredState; hashed: number }> {
    const deployTree = await git.readDeployTree(commit, deployDir, signal)
    const base = { revision: commit, refType: resolved.refType, deployTreeOid: deployTree.oid }
    if (deployTree.oid === previous.deployTreeOid) {
      return { state: { ...base, stacks: previous.stacks.map(withoutStatus) }, hashed: 0 }
    }

    // Stack directories whose tree id is unchanged keep their previous result.
    const previousByTree = new Map(
      previous.stacks.map((stack) => [`${stack.path}\0${stack.treeOid}`, stack]),
    )
    const directories = stackDirectories(deployTree.entries)
    const changedTrees = directories.filter((dir) => !previousByTree.has(`${dir.name}\0${dir.oid}`))
    const trees = await git.readByOid(unique(changedTrees.map((dir) => dir.oid)), signal)

    const stacks: Omit<Stack, 'status'>[] = []
    const toHash: { path: string; composeFile: string; treeOid: string; blobOid: string }[] = []
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
    const blobs = await git.readByOid(
      unique(toHash.filter((s) => !knownHashes.has(s.blobOid)).map((s) => s.blobOid)),
      signal,
    )
    for (const stack of toHash) {
      const content = blobs.get(stack.blobOid)
      const composeHash =
        knownHashes.get(stack.blobOid) ??
        createHash('sha256')
          .update(content as Buffer)
          .digest('hex')
      stacks.push({ ...stack, composeHash })
    }
    return { state: { ...base, stacks }, hashed: blobs.size }
  }

  async function fetchAndRead(
    resolved: ResolvedRevision,
    previous: Snapshot,
    signal?: AbortSignal,
  ) {
    const commit = await git.fetchRevision(resolved, signal)
    return { commit, ...(await readDesiredState(commit, resolved, previous, signal)) }
  }

  return async function refresh(
    trigger: RefreshTrigger,
    signal?: AbortSignal,
  ): Promise<RefreshResult> {
    const resolved = await git.resolveRevision(signal)
    const previous = store.current()
    if (resolved.sha === previous.revision) {
      store.confirmUnchanged(trigger)
      return {
        revision: resolved.sha,
        changed: false,
        stackCount: previous.stacks.length,
        hashed: 0,
      }
    }
    let result: Awaited<ReturnType<typeof fetchAndRead>>
    try {
      result = await fetchAndRead(resolved, previous, signal)
    } catch (error) {
      if (!(error instanceof GitError && error.code === 'corrupt_mirror')) throw error
      // A broken mirror is only a cache: rebuild it and try once more.
      await git.rebuildMirror(signal)
      result = await fetchAndRead(
        resolved,
        { ...previous, deployTreeOid: null, stacks: [] },
        signal,
      )
    }
    store.applyRefresh(result.state, trigger)
    return {
      revision: result.commit,
      changed: true,
      stackCount: result.state.stacks.length,
      hashed: result.hashed,
    }
  }
}

export type DesiredStateRefresh = ReturnType<typeof createDesiredStateRefresh>

function withoutStatus({ status: _status, ...stack }: Stack): Omit<Stack, 'status'> {
  return stack
}

function unique(values: string[]): string[] {
  return [...new Set(values)]
}
