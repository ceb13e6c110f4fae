import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readFile,
  rename,
  rm,
  rmdir,
  writeFile,
} from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { INTERNAL_DIR, stackFileKey } from '../base/index.js'
import {
  describeUnsafe,
  type GitReader,
  plainEntries,
  type TreeListing,
  unsafeName,
} from '../git/index.js'
import {
  asWorkTreeError,
  chmodFile,
  firstForeign,
  safePaths,
  WorkTreeError,
} from './work-tree-safety.js'

export { WorkTreeError } from './work-tree-safety.js'

const modeOf = (gitMode: string) => (gitMode === '100755' ? 0o755 : 0o644)

// Each stack's directory at the snapshot revision, written out of the bare
// mirror to STACKS_DIR/<stack>, where Compose runs (so relative bind mounts,
// env_file and build contexts resolve as they would for an operator).
// Written only when the stack's tree changed (the tree id is kept in a
// marker), and updated in place the way `git checkout` updates a checkout:
// only files whose content or mode changed are replaced, files the old tree
// had and the new one has not are removed, and anything docker-cd did not
// write stays. A directory is never swapped or deleted whole: containers
// bind-mount directories of the stack (`./html:/usr/share/nginx/html`) and
// write runtime data into them (`./data:/var/lib/postgresql/data`); a swap
// would empty the mounts of every container that is not recreated and
// delete the data.
//
// An update happens in two phases so that a failure (a full disk, a kill)
// never leaves a live directory half-updated: every changed file is first
// written to a staging directory of the stack's own
// (STACKS_DIR/.docker-cd/staging/<key>), and only when all are written are
// they renamed into place (a rename needs no space) and the files gone from
// Git removed. A failure while staging changes nothing the containers see;
// the staging directory is emptied at the start of the next update, so a
// kill leaves no stray file in a mounted directory. The marker (tree id and
// the paths written) is replaced last, so an interrupted update is redone
// from the old marker. Checks and deploys of one stack never run beside its
// update (monitor.ts and the reconciler serialise them per stack).
//
// What is written is what an archive holds: directories and regular files
// with their modes; no symlinks, no submodules, no names that are not valid
// UTF-8 (reported). A tree with an entry no file system may see ('..', '.',
// '.git', empty, a '/' in a name) is refused whole, and every path is
// checked to resolve inside the stack's directory without passing through a
// symlink (a container may have made one in a mounted directory) before
// anything is written or removed there.
//
// docker-cd's own files about a stack live in STACKS_DIR/.docker-cd, named
// by a hash of the stack's name (stackFileKey), so no stack name can collide
// with another stack's files or exceed the file system's name limit.

export type WorkTree = {
  dir: string
  written: boolean
  skipped: string[]
  /** Its SOPS-encrypted files (services/secrets): links into SECRETS_DIR. */
  encrypted?: readonly string[]
}

/** What the marker says: the tree the directory holds and the paths written for it. */
type Written = { tree: string; paths: ReadonlySet<string> | undefined }

export function createWorkTrees(options: {
  git: Pick<GitReader, 'listTree' | 'streamObjects'>
  stacksDir: string
}) {
  const stacksDir = resolve(options.stacksDir)
  const internalDir = join(stacksDir, INTERNAL_DIR)
  const keyOf = stackFileKey
  const markerOf = (stack: string) => join(internalDir, `${keyOf(stack)}.tree`)
  const recordFileOf = (stack: string, kind: string) =>
    join(internalDir, `${keyOf(stack)}.${kind}.json`)
  const stagingOf = (stack: string) => join(internalDir, 'staging', keyOf(stack))
  /** Where versions before the internal directory kept them, beside the work trees. */
  const legacyFilesOf = (stack: string) =>
    unsafeName(stack) || stack.length > 200
      ? []
      : [
          join(stacksDir, `.${stack}.tree`),
          join(stacksDir, `.${stack}.model.json`),
          join(stacksDir, `.${stack}.check.json`),
        ]

  /** STACKS_DIR/<stack>, refused when the name could leave STACKS_DIR. */
  function dirOf(stack: string): string {
    const why = unsafeName(stack) ?? (stack === INTERNAL_DIR ? 'a reserved name' : undefined)
    if (why)
      throw new WorkTreeError('tree', `the stack name ${JSON.stringify(stack)} is refused: ${why}`)
    return join(stacksDir, stack)
  }

  /**
   * The marker is JSON (`{tree, paths}`): a path may hold a newline, and a
   * marker of one path per line read `a\ndata/db.sqlite` as a claim on
   * `data/db.sqlite`, a container's file. Earlier versions wrote lines
   * beside the work trees; those are still read.
   */
  async function readMarker(stack: string): Promise<Written | undefined> {
    const text = await readFile(markerOf(stack), 'utf8').catch(() => undefined)
    if (text !== undefined) {
      try {
        const saved = JSON.parse(text) as { tree?: unknown; paths?: unknown }
        if (typeof saved.tree === 'string' && Array.isArray(saved.paths))
          return { tree: saved.tree, paths: new Set(saved.paths.map(String)) }
      } catch {}
      return undefined // unreadable: nothing is known to be ours
    }
    const legacy = await readLegacy(stack)
    if (legacy === undefined) return undefined
    const [tree = '', ...paths] = legacy.split('\n').filter((line) => line !== '')
    // A marker from before the path list: nothing is known to be ours to remove.
    return { tree: tree.trim(), paths: paths.length > 0 ? new Set(paths) : undefined }
  }

  async function readLegacy(stack: string): Promise<string | undefined> {
    const [marker] = legacyFilesOf(stack)
    return marker === undefined ? undefined : readFile(marker, 'utf8').catch(() => undefined)
  }

  /** Drops the files earlier versions kept beside the work trees (regular files only: a stack may be named like one). */
  async function removeLegacy(stack: string) {
    for (const file of legacyFilesOf(stack))
      if ((await lstat(file).catch(() => undefined))?.isFile()) await rm(file, { force: true })
  }

  /** The tree id the stack's directory holds, if it was written by this service. */
  async function writtenTree(stack: string): Promise<string | undefined> {
    return (await readMarker(stack))?.tree
  }

  /** Makes STACKS_DIR/<stack> hold `treeOid`; writes nothing when it already does. */
  async function ensure(stack: string, treeOid: string): Promise<WorkTree> {
    const dir = dirOf(stack)
    const before = await readMarker(stack)
    if (before?.tree === treeOid) return { dir, written: false, skipped: [] }
    const { entries, invalid, unsafe } = plainEntries(await options.git.listTree(treeOid))
    if (unsafe.length > 0)
      throw new WorkTreeError(
        'tree',
        `the stack's tree holds entries docker-cd refuses to write (they could land outside the stack's directory): ${describeUnsafe(unsafe)}`,
      )
    const progress = { live: false }
    try {
      await update(stack, dir, treeOid, before, entries, progress)
    } catch (error) {
      throw asWorkTreeError(error, stack, progress.live)
    }
    return { dir, written: true, skipped: invalid }
  }

  async function update(
    stack: string,
    dir: string,
    treeOid: string,
    before: Written | undefined,
    entries: TreeListing[],
    /** Set once the live directory starts to change (after staging). */
    progress: { live: boolean },
  ) {
    // The old tree's entries tell which files are unchanged (same blob, same mode).
    const previous = before
      ? await options.git.listTree(before.tree).then(
          (listing) => new Map(plainEntries(listing).entries.map((e) => [e.path, e])),
          () => new Map<string, TreeListing>(), // pruned from the mirror: write all
        )
      : new Map<string, TreeListing>()
    const paths = safePaths(dir)
    await mkdir(dir, { recursive: true })
    await paths.checkDirectory(dir)

    // Decide: which files to write, which paths must change type.
    const changed: TreeListing[] = []
    const modeOnly: TreeListing[] = []
    for (const entry of entries) {
      const path = paths.resolve(entry.path)
      if (entry.type === 'tree') continue
      const onDisk = await lstat(path).catch(() => undefined)
      if (onDisk?.isDirectory()) {
        const foreign = await firstForeign(path, entry.path, before?.paths)
        if (foreign !== undefined)
          throw new WorkTreeError(
            'tree',
            `Git makes ${JSON.stringify(entry.path)} a file, but that directory holds ${JSON.stringify(foreign)}, which docker-cd did not write (a container's data?): not deleting it; move it away, then sync`,
          )
      } else if (onDisk?.isFile() && previous.get(entry.path)?.oid === entry.oid) {
        if (previous.get(entry.path)?.mode !== entry.mode) modeOnly.push(entry)
        continue
      }
      changed.push(entry)
    }

    // Stage: every changed file written in full before anything live changes.
    const staging = stagingOf(stack)
    await rm(staging, { recursive: true, force: true }) // what a killed update left
    await mkdir(staging, { recursive: true })
    try {
      const staged = await writeBlobs(staging, changed)
      progress.live = true

      // Switch: directories first, parents before children (the listing's
      // order), so each one's parent is known to be a real directory; then
      // each staged file renamed over its path.
      for (const entry of entries) {
        if (entry.type !== 'tree') continue
        const path = paths.resolve(entry.path)
        await paths.checkParents(path)
        const onDisk = await lstat(path).catch(() => undefined)
        if (onDisk?.isDirectory()) {
          paths.trust(path)
          continue
        }
        if (onDisk) await rm(path, { force: true }) // a file or a symlink in the way: never followed
        await mkdir(path)
        paths.trust(path)
      }
      for (const [index, entry] of changed.entries()) {
        const path = paths.resolve(entry.path)
        await paths.checkParents(path)
        const onDisk = await lstat(path).catch(() => undefined)
        if (onDisk?.isDirectory()) {
          // Only what docker-cd wrote in it (checked above), then the directory: never `rm -r`.
          const inside = [...(before?.paths ?? [])].filter((p) => p.startsWith(`${entry.path}/`))
          await removePaths(paths, inside)
          await rmdir(path)
        }
        await moveInto(staged[index] as string, path)
      }
      for (const entry of modeOnly) {
        const path = paths.resolve(entry.path)
        await paths.checkParents(path)
        await chmodFile(path, modeOf(entry.mode))
      }
    } finally {
      await rm(staging, { recursive: true, force: true })
    }

    // Gone from Git: what the old tree had, files first, then emptied directories.
    const kept = new Set(entries.map((entry) => entry.path))
    await removePaths(
      paths,
      [...(before?.paths ?? [])].filter((path) => !kept.has(path)),
    )
    await mkdir(internalDir, { recursive: true })
    await replaceFile(
      markerOf(stack),
      JSON.stringify({ tree: treeOid, paths: entries.map((entry) => entry.path) }),
    )
    await removeLegacy(stack)
  }

  /** Writes each blob to its own file in `staging`; returns their paths, in order. */
  async function writeBlobs(staging: string, blobs: readonly TreeListing[]): Promise<string[]> {
    if (blobs.length === 0) return []
    const staged: string[] = []
    const stream = options.git.streamObjects(blobs.map((blob) => blob.oid))
    const objects = stream.objects[Symbol.asyncIterator]()
    try {
      for (const [index, entry] of blobs.entries()) {
        const next = await objects.next()
        if (next.done || next.value.missing) throw new Error(`blob ${entry.oid} is missing`)
        const file = join(staging, String(index))
        const out = createWriteStream(file, { mode: modeOf(entry.mode) })
        const failed = once(out, 'error').then(([error]) => {
          throw error
        })
        failed.catch(() => {}) // raced below; never unhandled
        for await (const piece of next.value.content) {
          if (!out.write(piece)) await Promise.race([once(out, 'drain'), failed])
        }
        out.end()
        await Promise.race([once(out, 'close'), failed])
        await chmod(file, modeOf(entry.mode)) // the umask narrowed it
        staged.push(file)
      }
      // Read to git's end of output, so git is seen to finish.
      if (!(await objects.next()).done) throw new Error('more objects than entries')
      await stream.finished
    } catch (error) {
      stream.stop()
      throw error
    }
    return staged
  }

  /**
   * Renames a staged file over its path. Across file systems (a volume
   * mounted inside a stack's directory) the copy is made beside the path
   * first, so the path still changes in one step.
   */
  async function moveInto(staged: string, path: string) {
    try {
      await rename(staged, path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error
      const beside = `${path}.docker-cd-${randomBytes(4).toString('hex')}`
      try {
        await copyFile(staged, beside)
        await rename(beside, path)
      } finally {
        await rm(beside, { force: true })
      }
    }
  }

  /** Removes the given paths (written by docker-cd), files first, then emptied directories. */
  async function removePaths(paths: ReturnType<typeof safePaths>, relativePaths: string[]) {
    for (const path of relativePaths.sort().reverse()) {
      // A path that would leave the directory, or lead through a symlink, is never removed.
      let full: string
      try {
        full = paths.resolve(path)
        await paths.checkParents(full)
      } catch {
        continue
      }
      const onDisk = await lstat(full).catch(() => undefined)
      if (!onDisk) continue
      if (onDisk.isDirectory())
        await rmdir(full).catch(() => {}) // runtime files in it: stays
      else await rm(full, { force: true })
    }
  }

  /**
   * A record about one tree of a stack, kept beside its work tree (so across
   * restarts) and valid only for that tree: `model` (Compose's model: project
   * name, services — a function of the tree alone, as Compose runs with a
   * fixed environment) and `check` (the last check and what the engine ran
   * then). Unreadable or for another tree: absent.
   */
  function treeRecord<T>(stack: string, treeOid: string, kind: 'model' | 'check' | 'secrets') {
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
      set: (value: T) =>
        mkdir(internalDir, { recursive: true })
          .then(() => writeFile(file, JSON.stringify({ tree: treeOid, value })))
          .catch(() => {}),
    }
  }

  /**
   * The stack left Git: the files docker-cd wrote for it and its records go;
   * what its containers wrote into the directory (bind-mounted data) stays,
   * and so does the directory then.
   */
  async function remove(stack: string): Promise<void> {
    const written = await readMarker(stack)
    const dir = dirOf(stack)
    const paths = safePaths(dir)
    const isDirectory = await paths.checkDirectory(dir).then(
      () => true,
      () => false,
    )
    if (isDirectory) {
      await removePaths(paths, [...(written?.paths ?? [])])
      await rmdir(dir).catch(() => {})
    }
    await rm(markerOf(stack), { force: true })
    await rm(recordFileOf(stack, 'model'), { force: true })
    await rm(recordFileOf(stack, 'check'), { force: true })
    await rm(stagingOf(stack), { recursive: true, force: true })
    await removeLegacy(stack)
  }

  return { ensure, remove, writtenTree, treeRecord }
}

export type WorkTrees = ReturnType<typeof createWorkTrees>

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
