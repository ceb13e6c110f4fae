import { isRegularFile, TREE_MODE, type TreeEntry } from '../git/index.js'

// Which directories are stacks and which file is each one's Compose file.
// Pure: the git reader feeds it tree listings.

/** Compose's own lookup order: the first present wins. */
const COMPOSE_FILE_NAMES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yml',
  'docker-compose.yaml',
] as const

/**
 * Immediate subdirectories of the deploy directory; symlinks and submodules
 * are not directories. A directory whose name is not valid UTF-8 is not a
 * stack (it cannot be named in the API without being confused with
 * another): it is listed in `skipped`, escaped, for a warning.
 */
export function stackDirectories(deployTree: TreeEntry[]): {
  directories: TreeEntry[]
  skipped: string[]
} {
  const trees = deployTree.filter((entry) => entry.mode === TREE_MODE)
  return {
    directories: trees.filter((entry) => !entry.invalidName),
    skipped: trees.filter((entry) => entry.invalidName).map((entry) => entry.name),
  }
}

/** The Compose file of one stack directory, or undefined when it holds none. */
export function pickComposeFile(stackTree: TreeEntry[]): TreeEntry | undefined {
  for (const name of COMPOSE_FILE_NAMES) {
    const entry = stackTree.find((candidate) => candidate.name === name)
    if (entry && isRegularFile(entry.mode)) return entry
  }
  return undefined
}
