import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { chmod, mkdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type GitReader, plainEntries, type TreeListing } from '../git/index.js'

const modeOf = (gitMode: string) => (gitMode === '100755' ? 0o755 : 0o644)

/** Replaces a small file whole (written beside it, renamed over it). */
async function replaceFile(path: string, text: string) {
  const fresh = `${path}.${randomBytes(4).toString('hex')}`
  try {
    await writeFile(fresh, text)
    await rename(fresh, path)
  } finally {
    await rm(fresh, { force: true })
  }
}

// Each stack's directory at the snapshot revision, written out of the bare
// mirror to STACKS_DIR/<stack>, where Compose runs (so relative bind mounts,
// env_file and build contexts resolve as they would for an operator).
// Written only when the stack's tree changed (the tree id is kept beside
// the directory), and updated in place the way `git checkout` updates a
// checkout: only files whose content or mode changed are replaced (each by
// writing beside it and renaming over it), files the old tree had and the
// new one has not are removed, and anything docker-cd did not write stays.
// A directory is never swapped or deleted whole: containers bind-mount
// directories of the stack (`./html:/usr/share/nginx/html`) and write
// runtime data into them (`./data:/var/lib/postgresql/data`); a swap would
// empty the mounts of every container that is not recreated and delete the
// data. The marker (tree id and the paths written) is replaced only after
// the tree is complete, so an interrupted update is redone from the old
// marker. Checks and deploys of one stack never run beside its update
// (monitor.ts and the reconciler serialise them per stack). The same
// entries as an archive: directories and regular files with their modes;
// no symlinks, no submodules, no names that are not valid UTF-8 (reported).

export type WorkTree = { dir: string; written: boolean; skipped: string[] }

/** What the marker beside a work tree says: the tree it holds and the paths written for it. */
type Written = { tree: string; paths: ReadonlySet<string> | undefined }

export function createWorkTrees(options: {
  git: Pick<GitReader, 'listTree' | 'streamObjects'>
  stacksDir: string
}) {
  const { stacksDir } = options
  const markerOf = (stack: string) => join(stacksDir, `.${stack}.tree`)
  const recordFileOf = (stack: string, kind: string) => join(stacksDir, `.${stack}.${kind}.json`)

  async function readMarker(stack: string): Promise<Written | undefined> {
    const text = await readFile(markerOf(stack), 'utf8').catch(() => undefined)
    if (text === undefined) return undefined
    const [tree = '', ...paths] = text.split('\n').filter((line) => line !== '')
    // A marker from before the path list: nothing is known to be ours to remove.
    return { tree: tree.trim(), paths: paths.length > 0 ? new Set(paths) : undefined }
  }

  /** The tree id the stack's directory holds, if it was written by this service. */
  async function writtenTree(stack: string): Promise<string | undefined> {
    return (await readMarker(stack))?.tree
  }

  /** Makes STACKS_DIR/<stack> hold `treeOid`; writes nothing when it already does. */
  async function ensure(stack: string, treeOid: string): Promise<WorkTree> {
    const dir = join(stacksDir, stack)
    const before = await readMarker(stack)
    if (before?.tree === treeOid) return { dir, written: false, skipped: [] }
    const { entries, invalid } = plainEntries(await options.git.listTree(treeOid))
    // The old tree's entries tell which files are unchanged (same blob, same mode).
    const previous = before
      ? await options.git.listTree(before.tree).then(
          (listing) => new Map(plainEntries(listing).entries.map((e) => [e.path, e])),
          () => new Map<string, (typeof entries)[number]>(), // pruned from the mirror: write all
        )
      : new Map<string, (typeof entries)[number]>()
    await mkdir(dir, { recursive: true })
    const changed: typeof entries = []
    for (const entry of entries) {
      const path = join(dir, entry.path)
      const old = previous.get(entry.path)
      const onDisk = await stat(path).catch(() => undefined)
      if (entry.type === 'tree') {
        if (onDisk?.isDirectory()) continue
        if (onDisk) await rm(path, { force: true })
        await mkdir(path, { recursive: true })
        continue
      }
      if (onDisk?.isDirectory()) {
        if (!before?.paths?.has(entry.path))
          throw new Error(`${entry.path} is a directory docker-cd did not write; not replacing it`)
        await rm(path, { recursive: true, force: true })
      } else if (onDisk && old?.oid === entry.oid) {
        if (old.mode !== entry.mode) await chmod(path, modeOf(entry.mode))
        continue
      }
      changed.push(entry)
    }
    await writeBlobs(dir, changed)
    // Gone from Git: what the old tree had, files first, then emptied directories.
    const kept = new Set(entries.map((entry) => entry.path))
    const gone = [...(before?.paths ?? [])].filter((path) => !kept.has(path))
    for (const path of gone.sort().reverse()) {
      const full = join(dir, path)
      const onDisk = await stat(full).catch(() => undefined)
      if (!onDisk) continue
      if (onDisk.isDirectory())
        await rmdir(full).catch(() => {}) // runtime files in it: stays
      else await rm(full, { force: true })
    }
    await replaceFile(markerOf(stack), `${[treeOid, ...entries.map((e) => e.path)].join('\n')}\n`)
    return { dir, written: true, skipped: invalid }
  }

  /** Writes each blob beside its path and renames it over the path (never half a file). */
  async function writeBlobs(dir: string, blobs: readonly TreeListing[]) {
    if (blobs.length === 0) return
    const stream = options.git.streamObjects(blobs.map((blob) => blob.oid))
    const objects = stream.objects[Symbol.asyncIterator]()
    try {
      for (const entry of blobs) {
        const path = join(dir, entry.path)
        const next = await objects.next()
        if (next.done || next.value.missing) throw new Error(`blob ${entry.oid} is missing`)
        const fresh = `${path}.docker-cd-${randomBytes(4).toString('hex')}`
        try {
          const file = createWriteStream(fresh, { mode: modeOf(entry.mode) })
          for await (const piece of next.value.content) {
            if (!file.write(piece)) await once(file, 'drain')
          }
          file.end()
          await once(file, 'close')
          await chmod(fresh, modeOf(entry.mode)) // the umask narrowed it
          await rename(fresh, path)
        } finally {
          await rm(fresh, { force: true })
        }
      }
      // Read to git's end of output, so git is seen to finish.
      if (!(await objects.next()).done) throw new Error('more objects than entries')
      await stream.finished
    } catch (error) {
      stream.stop()
      throw error
    }
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

  /**
   * The stack left Git: the files docker-cd wrote for it and its records go;
   * what its containers wrote into the directory (bind-mounted data) stays,
   * and so does the directory then.
   */
  async function remove(stack: string): Promise<void> {
    const written = await readMarker(stack)
    const dir = join(stacksDir, stack)
    for (const path of [...(written?.paths ?? [])].sort().reverse()) {
      const full = join(dir, path)
      const onDisk = await stat(full).catch(() => undefined)
      if (onDisk?.isDirectory()) await rmdir(full).catch(() => {})
      else if (onDisk) await rm(full, { force: true })
    }
    await rmdir(dir).catch(() => {})
    await rm(markerOf(stack), { force: true })
    await rm(recordFileOf(stack, 'model'), { force: true })
    await rm(recordFileOf(stack, 'check'), { force: true })
  }

  return { ensure, remove, writtenTree, treeRecord }
}

export type WorkTrees = ReturnType<typeof createWorkTrees>
