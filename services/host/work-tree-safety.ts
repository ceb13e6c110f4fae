import { constants } from 'node:fs'
import { lstat, open, readdir } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import { describeFsError } from '../base/index.js'
import { unsafeName } from '../git/index.js'

// What keeps a work-tree update inside its stack's directory (work-trees.ts
// writes; this file says where it may): paths resolved and refused when
// they would leave it, parents that must be real directories (never a
// symlink a container planted), a chmod that never follows a link, a
// directory Git turns into a file removed only when all in it is ours, and
// a file-system failure in words.

/**
 * A work tree that could not be written. `tree`: the tree itself is refused
 * (an unsafe entry, an encrypted file that does not decrypt) — not worth
 * retrying until it changes. `host`: the file system under STACKS_DIR (or
 * SECRETS_DIR) failed (full, read-only, permissions) — worth retrying, it
 * may recover by itself. `key`: the tree holds encrypted files and no age
 * key is configured — the stack cannot be judged (detect mode); a new key
 * and a manual sync go on.
 */
export class WorkTreeError extends Error {
  constructor(
    readonly kind: 'tree' | 'host' | 'key',
    message: string,
    readonly code?: string,
  ) {
    super(message)
    this.name = 'WorkTreeError'
  }
}

/**
 * Paths of a tree inside `root`. `resolve` refuses any that would leave it
 * (a '..' or '.git' component, an absolute path); `checkParents` refuses a
 * parent on disk that is not a plain directory (a symlink a container made
 * in a mounted directory would lead a write or a removal elsewhere).
 * Directories checked or made are remembered for one update, so an update
 * costs no more system calls than before.
 */
export function safePaths(root: string) {
  const checked = new Set<string>()
  async function checkDirectory(dir: string) {
    if (checked.has(dir)) return
    const info = await lstat(dir)
    if (!info.isDirectory())
      throw new WorkTreeError(
        'host',
        `${dir} is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}: docker-cd writes only into directories of its own`,
      )
    checked.add(dir)
  }
  return {
    checkDirectory,
    /** Marks a directory just made (or checked) by this update. */
    trust: (dir: string) => checked.add(dir),
    resolve(path: string): string {
      const refused = path.split('/').map(unsafeName).find(Boolean)
      const full = resolve(root, path)
      const inside = relative(root, full)
      if (refused || inside === '' || inside === '..' || inside.startsWith(`..${sep}`))
        throw new WorkTreeError(
          'tree',
          `the path ${JSON.stringify(path)} is refused: it would leave the stack's directory`,
        )
      return full
    },
    /** Every directory between the root and `full` (resolved) must be a real one. */
    async checkParents(full: string) {
      const components = relative(root, full).split(sep).slice(0, -1)
      let parent = root
      for (const component of components) {
        parent = join(parent, component)
        await checkDirectory(parent)
      }
    },
  }
}

/**
 * The first path inside `dir` (on disk, Git path `gitPath`) that the
 * marker does not list as written by docker-cd, or undefined when all are.
 * Stops at the first one: a container's data directory may be large.
 */
export async function firstForeign(
  dir: string,
  gitPath: string,
  written: ReadonlySet<string> | undefined,
): Promise<string | undefined> {
  if (!written?.has(gitPath)) return gitPath
  for (const child of await readdir(dir, { withFileTypes: true })) {
    const childPath = `${gitPath}/${child.name}`
    if (!written.has(childPath)) return childPath
    if (child.isDirectory()) {
      const foreign = await firstForeign(join(dir, child.name), childPath, written)
      if (foreign !== undefined) return foreign
    }
  }
  return undefined
}

/**
 * chmod of a regular file that never follows a symlink: a container may
 * have put a link to a host file in its place while the update staged
 * (O_NOFOLLOW refuses it, O_NONBLOCK keeps a FIFO from blocking).
 */
export async function chmodFile(path: string, mode: number) {
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    if ((await file.stat()).isFile()) await file.chmod(mode)
  } finally {
    await file.close()
  }
}

/** A file-system failure under STACKS_DIR in words; a WorkTreeError passes through. */
export function asWorkTreeError(error: unknown, stack: string, live: boolean): unknown {
  if (error instanceof WorkTreeError) return error
  const code = (error as NodeJS.ErrnoException).code
  if (!code) return error // git: the reader's own error says what failed
  const what =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? `no space left on the volume of STACKS_DIR: ${describeFsError(code)}`
      : `a file-system error under STACKS_DIR: ${describeFsError(code)}`
  return new WorkTreeError(
    'host',
    `writing the work tree of ${JSON.stringify(stack)} failed${live ? '' : ' (its files are unchanged)'}: ${what}`,
    code,
  )
}
