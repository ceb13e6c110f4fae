import { mkdir } from 'node:fs/promises'
import type { RefType } from '../../schemas/refresh.js'
import { mkdirFailureCode } from '../base/index.js'
import { GitError } from './command.js'
import type { Mirror } from './mirror.js'

// The remote side: resolve the configured revision with one `ls-remote`
// (refs filtered server-side), and fetch it shallowly into the mirror.

export type ResolvedRevision = {
  /** Full commit SHA (annotated tags peeled). */
  sha: string
  /** The revision as configured, without `refs/heads/` or `refs/tags/`. */
  ref: string
  refType: RefType
  /** What to fetch: the full ref name, or the commit SHA. */
  fetchTarget: string
}

const FULL_SHA = /^[0-9a-f]{40}$/i
/** What a shortened commit SHA looks like (git abbreviates to 4 characters at least). */
const SHORT_SHA = /^[0-9a-f]{4,39}$/i
export const TARGET_REF = 'refs/docker-cd/target'

/** What the ref looks like before asking the remote. */
export function describeRevision(revision: string): {
  ref: string
  candidates: string[]
  commit: boolean
} {
  if (FULL_SHA.test(revision)) return { ref: revision.toLowerCase(), candidates: [], commit: true }
  if (revision.startsWith('refs/heads/') || revision.startsWith('refs/tags/')) {
    const ref = revision.replace(/^refs\/(heads|tags)\//, '')
    return { ref, candidates: [revision], commit: false }
  }
  return {
    ref: revision,
    candidates: [`refs/heads/${revision}`, `refs/tags/${revision}`],
    commit: false,
  }
}

/** Picks the commit for the revision from `git ls-remote` output; branches win over tags. */
export function pickRemoteRef(
  lsRemote: string,
  candidates: string[],
): { name: string; sha: string } | undefined {
  const refs = new Map<string, string>()
  for (const line of lsRemote.split('\n')) {
    const [sha, name] = line.split('\t')
    if (sha && name) refs.set(name, sha)
  }
  for (const name of candidates) {
    const sha = refs.get(`${name}^{}`) ?? refs.get(name)
    if (sha) return { name, sha }
  }
  return undefined
}

// What is wrong with GIT_REVISION, said plainly: git's own words ("not our ref")
// name no variable and assume one knows how a fetch asks for a commit.

/** GIT_REVISION names no branch or tag; a shortened SHA is told to be given in full. */
function noSuchRef(revision: string): string {
  const what = revision.startsWith('refs/heads/')
    ? 'a branch'
    : revision.startsWith('refs/tags/')
      ? 'a tag'
      : 'a branch or tag'
  const missing = `GIT_REVISION "${revision}" is not ${what} of the repository`
  return SHORT_SHA.test(revision)
    ? `${missing}; if it is a commit, GIT_REVISION needs its full 40-character SHA (git rev-parse ${revision} prints it)`
    : `${missing}: set GIT_REVISION to an existing branch, tag or full 40-character commit SHA`
}

/** A full SHA the server will not send: no branch or tag contains it. */
function noSuchCommit(sha: string): string {
  return `GIT_REVISION ${sha} is not a commit in the repository: no branch or tag on the server contains it, so the server will not send it; check the SHA, or set GIT_REVISION to a branch or tag`
}

export function createRemote(mirror: Mirror, afterFetch: (signal?: AbortSignal) => Promise<void>) {
  const { options, git } = mirror
  let cacheDirReady: Promise<unknown> | undefined

  /** Resolves the configured revision on the remote (one `ls-remote`, refs filtered server-side). */
  async function resolveRevision(signal?: AbortSignal): Promise<ResolvedRevision> {
    const described = describeRevision(options.revision)
    if (described.commit) {
      return {
        sha: described.ref,
        ref: described.ref,
        refType: 'commit',
        fetchTarget: described.ref,
      }
    }
    const patterns = described.candidates.flatMap((name) =>
      name.startsWith('refs/tags/') ? [name, `${name}^{}`] : [name],
    )
    cacheDirReady ??= mkdir(options.cacheDir, { recursive: true }).catch(async (error) => {
      cacheDirReady = undefined
      const code = await mkdirFailureCode(options.cacheDir, error.code)
      throw mirror.cacheWriteFailure(Object.assign(error, { code }))
    })
    await cacheDirReady
    const { stdout } = await git(
      ['ls-remote', '--', options.repoUrl, ...patterns],
      signal,
      undefined,
      options.cacheDir,
    )
    const found = pickRemoteRef(stdout.toString('utf8'), described.candidates)
    if (!found) throw new GitError('ref_not_found', noSuchRef(options.revision))
    return {
      sha: found.sha,
      ref: described.ref,
      refType: found.name.startsWith('refs/tags/') ? 'tag' : 'branch',
      fetchTarget: found.name,
    }
  }

  /**
   * Shallow fetch of the resolved revision. Returns the commit actually
   * fetched, which is newer than `resolved.sha` if someone pushed in between.
   * A mirror that is missing, belongs to another URL or was reported broken
   * by an earlier command is rebuilt first.
   */
  async function fetchRevision(resolved: ResolvedRevision, signal?: AbortSignal): Promise<string> {
    await mirror.ensure(signal)
    const refspec = `+${resolved.fetchTarget}:${TARGET_REF}`
    await git(
      [
        'fetch',
        '--quiet',
        '--depth=1',
        '--no-tags',
        '--no-write-fetch-head',
        '--',
        options.repoUrl,
        refspec,
      ],
      signal,
    ).catch((error) => {
      // A commit asked for by SHA that the server will not send ("not our
      // ref"): it is on none of the server's branches and tags.
      if (
        resolved.refType === 'commit' &&
        error instanceof GitError &&
        error.code === 'ref_not_found'
      )
        throw new GitError('ref_not_found', noSuchCommit(resolved.sha))
      throw error
    })
    await afterFetch(signal)
    const { stdout } = await git(
      ['rev-parse', '--verify', '--quiet', `${TARGET_REF}^{commit}`],
      signal,
    )
    return stdout.toString('utf8').trim()
  }

  return { resolveRevision, fetchRevision }
}
