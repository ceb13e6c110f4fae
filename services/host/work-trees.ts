import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type GitReader, plainEntries } from '../git/index.js'

// Each stack's directory at the snapshot revision, written out of the bare
// mirror to STACKS_DIR/<stack>, where Compose runs (so relative bind mounts,
// env_file and build contexts resolve as they would for an operator).
// Written only when the stack's tree changed (the tree id is kept beside
// the directory), into a fresh directory beside it, then swapped in by
// rename: Compose never sees a half-written tree. The same entries as an
// archive: directories and regular files with their modes; no symlinks, no
// submodules, no names that are not valid UTF-8 (reported).

export type WorkTree = { dir: string; written: boolean; skipped: string[] }

export function createWorkTrees(options: {
  git: Pick<GitReader, 'listTree' | 'streamObjects'>
  stacksDir: string
}) {
  const { stacksDir } = options
  const markerOf = (stack: string) => join(stacksDir, `.${stack}.tree`)
  const recordFileOf = (stack: string, kind: string) => join(stacksDir, `.${stack}.${kind}.json`)

  /** The tree id the stack's directory holds, if it was written by this service. */
  async function writtenTree(stack: string): Promise<string | undefined> {
    return readFile(markerOf(stack), 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    )
  }

  /** Makes STACKS_DIR/<stack> hold `treeOid`; writes nothing when it already does. */
  async function ensure(stack: string, treeOid: string): Promise<WorkTree> {
    const dir = join(stacksDir, stack)
    if ((await writtenTree(stack)) === treeOid) return { dir, written: false, skipped: [] }
    await mkdir(stacksDir, { recursive: true })
    const suffix = randomBytes(6).toString('hex')
    const fresh = join(stacksDir, `.${stack}.new-${suffix}`)
    const old = join(stacksDir, `.${stack}.old-${suffix}`)
    try {
      const skipped = await writeTree(treeOid, fresh)
      // Swap: the old directory steps aside, the new one takes its name.
      await rename(dir, old).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error
      })
      await rename(fresh, dir)
      await writeFile(markerOf(stack), `${treeOid}\n`)
      return { dir, written: true, skipped }
    } finally {
      await rm(fresh, { recursive: true, force: true })
      await rm(old, { recursive: true, force: true })
    }
  }

  async function writeTree(treeOid: string, into: string): Promise<string[]> {
    const { entries, invalid } = plainEntries(await options.git.listTree(treeOid))
    await mkdir(into, { recursive: true })
    const blobs = entries.filter((entry) => entry.type === 'blob')
    const stream = options.git.streamObjects(blobs.map((blob) => blob.oid))
    const objects = stream.objects[Symbol.asyncIterator]()
    try {
      for (const entry of entries) {
        const path = join(into, entry.path)
        if (entry.type === 'tree') {
          await mkdir(path, { recursive: true })
          continue
        }
        const next = await objects.next()
        if (next.done || next.value.missing) throw new Error(`blob ${entry.oid} is missing`)
        const file = createWriteStream(path, { mode: entry.mode === '100755' ? 0o755 : 0o644 })
        for await (const piece of next.value.content) {
          if (!file.write(piece)) await once(file, 'drain')
        }
        file.end()
        await once(file, 'close')
      }
      // Read to git's end of output, so git is seen to finish.
      if (!(await objects.next()).done) throw new Error('more objects than entries')
      await stream.finished
    } catch (error) {
      stream.stop()
      throw error
    }
    return invalid
  }

  /**
   * A record about one tree of a stack, kept beside its work tree (so across
   * restarts) and valid only for that tree: `model` (Compose's model: project
   * name, services — a function of the tree alone, as Compose runs with a
   * fixed environment) and `check` (the last check and what the engine ran
   * then). Unreadable or for another tree: absent.
   */
  function treeRecord<T>(stack: string, treeOid: string, kind: 'model' | 'check') {
    const file = recordFileOf(stack, kind)
    return {
      get: (): Promise<T | undefined> =>
        readFile(file, 'utf8').then(
          (text) => {
            const saved = JSON.parse(text) as { tree?: string; value?: T }
            return saved.tree === treeOid ? saved.value : undefined
          },
          () => undefined,
        ),
      set: (value: T) => writeFile(file, JSON.stringify({ tree: treeOid, value })).catch(() => {}),
    }
  }

  /** Removes a stack's directory (the stack left Git). */
  async function remove(stack: string): Promise<void> {
    await rm(markerOf(stack), { force: true })
    await rm(recordFileOf(stack, 'model'), { force: true })
    await rm(recordFileOf(stack, 'check'), { force: true })
    await rm(join(stacksDir, stack), { recursive: true, force: true })
  }

  return { ensure, remove, writtenTree, treeRecord }
}

export type WorkTrees = ReturnType<typeof createWorkTrees>
