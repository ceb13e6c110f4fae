import { createHash } from 'node:crypto'
import { catFileObjects } from './cat-file-stream.js'
import { GitError } from './command.js'
import type { Mirror } from './mirror.js'
import {
  type BatchObject,
  parseBatchOutput,
  parseTree,
  parseTreeListing,
  type TreeEntry,
  type TreeListing,
} from './objects.js'

// Reading from the mirror: trees and blobs in batches (`cat-file --batch`),
// listings, streamed objects, and blob hashes computed while they stream.

export function createObjectReader(mirror: Mirror) {
  const { git } = mirror

  /** Reads objects named by `requests` (`<oid>` or `<commit>:<path>`) in one `cat-file --batch`. */
  async function readObjects(requests: string[], signal?: AbortSignal): Promise<BatchObject[]> {
    if (requests.length === 0) return []
    const { stdout } = await git(['cat-file', '--batch'], signal, `${requests.join('\n')}\n`)
    return parseBatchOutput(stdout, requests)
  }

  /** The deploy directory's tree at a commit. */
  async function readDeployTree(
    commit: string,
    deployDir: string,
    signal?: AbortSignal,
  ): Promise<{ oid: string; entries: TreeEntry[] }> {
    const request = deployDir === '' ? `${commit}^{tree}` : `${commit}:${deployDir}`
    const [object] = await readObjects([request], signal)
    if (!object || object.missing) {
      if (deployDir === '')
        throw new GitError('corrupt_mirror', `commit ${commit} is missing from the mirror`)
      throw new GitError(
        'path_not_found',
        `deploy directory "${deployDir}" does not exist at ${commit.slice(0, 12)}`,
      )
    }
    if (object.type !== 'tree') {
      throw new GitError(
        'path_not_found',
        `deploy directory "${deployDir}" is not a directory at ${commit.slice(0, 12)}`,
      )
    }
    return { oid: object.oid, entries: parseTree(object.content) }
  }

  /** Reads trees or blobs by object id; a missing object means the mirror is broken. */
  async function readByOid(oids: string[], signal?: AbortSignal): Promise<Map<string, Buffer>> {
    const objects = await readObjects(oids, signal)
    const found = new Map<string, Buffer>()
    for (const object of objects) {
      if (object.missing)
        throw new GitError('corrupt_mirror', `object ${object.request} is missing from the mirror`)
      found.set(object.oid, object.content)
    }
    return found
  }

  /** Every entry below a tree, trees before their contents (`ls-tree -r -t`). */
  async function listTree(treeOid: string, signal?: AbortSignal): Promise<TreeListing[]> {
    const { stdout } = await mirror.reading(
      git(['ls-tree', '-r', '-t', '-z', '--full-tree', treeOid], signal),
    )
    return parseTreeListing(stdout)
  }

  /**
   * The files that differ between two trees (added, changed, removed, mode
   * changed), as paths relative to them: one `diff-tree`, no checkout.
   * `fromTree` may be gone (a rebuilt mirror is shallow): then a GitError
   * `tree_not_found`, asked without `diff-tree` (whose "bad object" would
   * mark the mirror broken, and rebuilding it does not bring the tree back).
   */
  async function changedFiles(
    fromTree: string,
    toTree: string,
    signal?: AbortSignal,
  ): Promise<string[]> {
    if (fromTree === toTree) return []
    const [from] = await mirror.reading(readPresence([fromTree], signal))
    if (from?.missing) throw new GitError('tree_not_found', `tree ${fromTree} is not in the mirror`)
    const { stdout } = await mirror.reading(
      git(['diff-tree', '-r', '-z', '--name-only', '--no-renames', fromTree, toTree], signal),
    )
    return stdout.toString('utf8').split('\0').filter(Boolean)
  }

  /** Whether objects are in the mirror (`cat-file --batch-check`: a missing one is a line, not an error). */
  async function readPresence(oids: string[], signal?: AbortSignal) {
    const { stdout } = await git(['cat-file', '--batch-check'], signal, `${oids.join('\n')}\n`)
    const lines = stdout.toString('utf8').split('\n')
    return oids.map((oid, index) => ({ oid, missing: lines[index] === `${oid} missing` }))
  }

  /** Streams objects from the mirror in one `cat-file --batch`, content in pieces. */
  function streamObjects(oids: string[], signal?: AbortSignal) {
    const cat = mirror.stream(
      ['cat-file', '--batch'],
      oids.length ? `${oids.join('\n')}\n` : '',
      signal,
    )
    return {
      objects: catFileObjects(cat.stdout, oids),
      finished: cat.finished,
      stop: cat.stop,
    }
  }

  /**
   * SHA-256 of each blob, hashed while it streams out of `cat-file --batch`:
   * memory stays at one chunk whatever the blob weighs (a Compose file can be
   * small in Git and huge on disk).
   */
  async function hashBlobs(oids: string[], signal?: AbortSignal): Promise<Map<string, string>> {
    const hashes = new Map<string, string>()
    if (oids.length === 0) return hashes
    const stream = streamObjects(oids, signal)
    try {
      for await (const object of stream.objects) {
        if (object.missing) {
          mirror.markBroken()
          throw new GitError(
            'corrupt_mirror',
            `object ${object.request} is missing from the mirror`,
          )
        }
        const hash = createHash('sha256')
        for await (const piece of object.content) hash.update(piece)
        hashes.set(object.oid, hash.digest('hex'))
      }
      await stream.finished
    } catch (error) {
      stream.stop()
      if (signal?.aborted) throw new GitError('aborted', 'git cat-file was stopped: shutting down')
      if (error instanceof GitError) throw await mirror.explain(error)
      mirror.markBroken()
      throw new GitError('corrupt_mirror', `reading blobs failed: ${(error as Error).message}`)
    }
    return hashes
  }

  return { readDeployTree, readByOid, listTree, changedFiles, streamObjects, hashBlobs }
}
