import { INTERNAL_DIR } from '../base/index.js'
import { isRegularFile, TREE_MODE, type TreeEntry, unsafeName } from '../git/index.js'

// Which directories are stacks and which file is each one's Compose file.
// Pure: the git reader feeds it tree listings.

/** Compose's own lookup order: the first present wins. */
export const COMPOSE_FILE_NAMES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yml',
  'docker-compose.yaml',
] as const

/**
 * Immediate subdirectories of the deploy directory; symlinks and submodules
 * are not directories. A directory is not a stack, and is listed in
 * `skipped` with why (for a warning), when its name is not valid UTF-8 (it
 * cannot be named in the API without being confused with another), when a
 * file system must never see it ('.', '..', '.git', a name holding '/': see
 * unsafeName), or when it is the name of docker-cd's own files beside the
 * work trees (INTERNAL_DIR).
 */
export function stackDirectories(deployTree: TreeEntry[]): {
  directories: TreeEntry[]
  skipped: string[]
} {
  const directories: TreeEntry[] = []
  const skipped: string[] = []
  for (const entry of deployTree) {
    if (entry.mode !== TREE_MODE) continue
    const refused = entry.invalidName || entry.name === INTERNAL_DIR || unsafeName(entry.name)
    if (refused) skipped.push(entry.name)
    else directories.push(entry)
  }
  return { directories, skipped }
}

/** The Compose file of one stack directory, or undefined when it holds none. */
export function pickComposeFile(stackTree: TreeEntry[]): TreeEntry | undefined {
  for (const name of COMPOSE_FILE_NAMES) {
    const entry = stackTree.find((candidate) => candidate.name === name)
    if (entry && isRegularFile(entry.mode)) return entry
  }
  return undefined
}
