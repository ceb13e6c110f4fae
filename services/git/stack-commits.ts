import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GitError } from './command.js'
import type { Mirror } from './mirror.js'
import { commitSubject } from './objects.js'
import type { ResolvedRevision } from './remote.js'

// Which commit last changed each stack, so a stack is labelled with its own
// commit and not with the repository's head. The mirror is shallow (one
// commit per fetch): it knows the fetched commit and its parent's id, no
// history. Two ways to the answer:
//
//  - the common case, one commit since the last refresh (its parent is the
//    previous revision): that commit changed every stack whose tree
//    changed; nothing is asked of the server;
//  - several commits in one fetch, or a first look (start on an empty
//    cache): the last HISTORY_DEPTH commits' history is fetched into a
//    second bare repository beside the mirror (`<mirror>.history`;
//    commits and trees only where the server allows a blob filter), and
//    `git log` names, per stack directory, the newest commit that touched
//    it. The mirror itself stays shallow: its pruning and size rules hold.
//    One commit more than that is fetched, and the shallow boundary (a
//    commit whose parents were not fetched, so `git log` lists every file
//    as added by it) never counts as having changed a stack. A history
//    repository git calls broken is rebuilt and the lookup tried once more.
//
// A stack not touched within those commits keeps the head's revision and
// the caller's first-look flag; a failure here never fails a refresh.

/** How many commits of history a lookup fetches and reads. */
export const HISTORY_DEPTH = 50

export type StackCommit = { revision: string; subject?: string }

/** The commit ids a commit object names as parents. */
export function parentsOf(commit: Buffer | string): string[] {
  const text = commit.toString('utf8')
  const header = text.slice(0, Math.max(text.indexOf('\n\n'), 0))
  return header
    .split('\n')
    .filter((line) => line.startsWith('parent '))
    .map((line) => line.slice('parent '.length).trim())
}

/**
 * The newest commit touching each directory, from `git log -z --name-only
 * --format=%x1e%H%x1f%s` output (newest first). `directories` are paths in
 * the repository; a directory no listed commit touched is absent.
 */
export function newestTouching(
  log: string,
  directories: readonly string[],
  boundary: ReadonlySet<string> = new Set(),
): Map<string, StackCommit> {
  const found = new Map<string, StackCommit>()
  // By name, not directory × file: a first look at 10,000 stacks lists 40,000 files.
  const wanted = new Set(directories)
  for (const entry of log.split('\x1e')) {
    if (found.size === directories.length) break
    const [head, ...files] = entry.split('\0')
    const [revision, subject] = (head ?? '').replace(/^\n+/, '').split('\x1f')
    if (!revision || !/^[0-9a-f]{40}$/.test(revision)) continue
    // A shallow boundary's parents are absent: its file list is the whole tree, not a change.
    if (boundary.has(revision)) continue
    const commit = { revision, ...(subject ? { subject } : {}) }
    for (const file of files) {
      const name = file.replace(/^\n+/, '')
      // Every directory the file is under (a stack directory may hold a `/` deeper in GIT_DEPLOY_DIR).
      for (let slash = name.indexOf('/'); slash !== -1; slash = name.indexOf('/', slash + 1)) {
        const directory = name.slice(0, slash)
        if (wanted.has(directory) && !found.has(directory)) found.set(directory, commit)
      }
    }
  }
  return found
}

export function createStackCommits(
  mirror: Pick<Mirror, 'git' | 'options' | 'dir'>,
  readCommit: (revision: string, signal?: AbortSignal) => Promise<Buffer | undefined>,
) {
  const historyDir = mirror.dir.replace(/\.git$/, '.history')

  /** The history repository: created when missing or another repository's. */
  async function ensureHistory(signal?: AbortSignal, rebuild = false) {
    const marker = join(historyDir, 'docker-cd-url')
    if (
      !rebuild &&
      (await readFile(marker, 'utf8').catch(() => undefined)) === mirror.options.repoUrl
    )
      return
    await rm(historyDir, { recursive: true, force: true })
    await mkdir(historyDir, { recursive: true })
    await mirror.git(['init', '--bare', '--quiet'], signal, undefined, historyDir)
    await writeFile(marker, mirror.options.repoUrl)
  }

  /**
   * The commit that last changed each of `directories` (paths in the
   * repository) at `revision`. `previousRevision`: the revision of the
   * last refresh, when there was one.
   */
  async function find(
    input: {
      revision: string
      resolved: Pick<ResolvedRevision, 'fetchTarget'>
      previousRevision?: string | null
      directories: readonly string[]
    },
    signal?: AbortSignal,
  ): Promise<Map<string, StackCommit>> {
    const { revision, directories } = input
    if (directories.length === 0) return new Map()
    const commit = await readCommit(revision, signal)
    const parents = commit ? parentsOf(commit) : []
    if (
      commit &&
      input.previousRevision &&
      parents.length === 1 &&
      parents[0] === input.previousRevision
    ) {
      const subject = commitSubject(commit)
      const one = { revision, ...(subject ? { subject } : {}) }
      return new Map(directories.map((directory) => [directory, one]))
    }
    try {
      return await lookup(input, signal)
    } catch (error) {
      // A damaged history repository (not a network failure): rebuilt, tried once more.
      if (!(error instanceof GitError && ['corrupt_mirror', 'git_error'].includes(error.code)))
        throw error
      await ensureHistory(signal, true)
      return await lookup(input, signal)
    }
  }

  /** Fetches the last HISTORY_DEPTH commits into the history repository and reads them. */
  async function lookup(
    input: {
      revision: string
      resolved: Pick<ResolvedRevision, 'fetchTarget'>
      directories: readonly string[]
    },
    signal?: AbortSignal,
  ): Promise<Map<string, StackCommit>> {
    const { revision, directories } = input
    await ensureHistory(signal)
    const ref = 'refs/docker-cd/history'
    await mirror.git(
      [
        'fetch',
        '--quiet',
        // One more than is read: the newest HISTORY_DEPTH commits all have their parent.
        `--depth=${HISTORY_DEPTH + 1}`,
        '--filter=blob:none',
        '--no-tags',
        '--no-write-fetch-head',
        '--',
        mirror.options.repoUrl,
        `+${input.resolved.fetchTarget}:${ref}`,
      ],
      signal,
      undefined,
      historyDir,
    )
    // The fetched ref may be newer than `revision` (a push in between): the log starts at `revision`.
    const { stdout } = await mirror.git(
      [
        'log',
        '-z',
        '--no-renames',
        '--name-only',
        `--max-count=${HISTORY_DEPTH}`,
        '--format=%x1e%H%x1f%s',
        revision,
        '--',
        // Literal: a stack directory named `*` or `:x` is that directory, not a pattern.
        ...directories.map((directory) => `:(literal)${directory}`),
      ],
      signal,
      undefined,
      historyDir,
    )
    const shallow = await readFile(join(historyDir, 'shallow'), 'utf8').catch(() => '')
    const boundary = new Set(shallow.split('\n').filter(Boolean))
    return newestTouching(stdout.toString('utf8'), directories, boundary)
  }

  return { find }
}

export type StackCommits = ReturnType<typeof createStackCommits>
