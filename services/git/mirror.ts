import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describeFsError } from '../base/index.js'
import { GitError, type GitErrorCode, runGit, startGit } from './command.js'
import { type GitEnvironmentOptions, gitEnvironment, gitSecrets } from './environment.js'
import { findRedirect, repositoryUrlOf } from './redirect-probe.js'

// The persistent bare mirror and the one way git is run against it: the
// credentials' environment, GIT_TIMEOUT and GIT_MEMORY_LIMIT on every
// command, git's output scrubbed of secrets, failures explained in words an
// operator acts on. A missing, foreign or broken mirror is rebuilt here.
// The reader's parts (remote, objects, maintenance) share one of these.

export type MirrorOptions = GitEnvironmentOptions & {
  repoUrl: string
  revision: string
  cacheDir: string
  timeoutMs: number
  /** Address-space limit of each git process (GIT_MEMORY_LIMIT); 0: none. */
  memoryLimitBytes: number
}

/**
 * git's words for "the server has no such repository" (or hides it from
 * this credential), by the category they are classified as: HTTP 404 over
 * https; over ssh the server's own line (git-shell's, GitHub's, GitLab's,
 * Gitea's) before git's "could not read from remote repository".
 */
const NO_SUCH_REPOSITORY: Partial<Record<GitErrorCode, RegExp>> = {
  unreachable: /repository '[^']*' not found|returned error: 404\b/i,
  git_error:
    /does not appear to be a git repository|repository not found|project you were looking for could not be found|repository does not exist/i,
}

export function createMirror(options: MirrorOptions) {
  const secrets = gitSecrets(options)
  const dir = join(
    options.cacheDir,
    `${createHash('sha256').update(options.repoUrl).digest('hex').slice(0, 16)}.git`,
  )
  const env = gitEnvironment(options)
  /** Set when git reported the mirror broken: the next fetch rebuilds it. */
  let broken = false
  /** Consumer reads (listings, streams) in progress; pruning waits for none. */
  let activeReads = 0
  const rebuiltListeners: (() => void)[] = []

  /** Removes the token (raw and base64) and any URL userinfo from text git printed. */
  function scrub(text: string): string {
    let clean = text
    for (const secret of secrets) clean = clean.split(secret).join('[REDACTED]')
    return clean.replace(/(https?:\/\/)[^/\s@]+@/g, '$1')
  }

  /** Runs one bounded git command in the mirror (or `cwd`); failures come explained. */
  async function git(args: string[], signal?: AbortSignal, input?: string, cwd = dir) {
    try {
      return await runGit(args, {
        cwd,
        env,
        input,
        signal,
        timeoutMs: options.timeoutMs,
        memoryLimitBytes: options.memoryLimitBytes,
        scrub,
      })
    } catch (error) {
      // Only the mirror's own failures mark it broken (not another repository's, e.g. the history's).
      throw await explain(error, cwd === dir)
    }
  }

  /**
   * Starts a git command in the mirror that streams its output. A local
   * read: it ends with its reader (`stop`), not at GIT_TIMEOUT, so a slow
   * download is not cut off. Counted as a read until it finishes.
   */
  function stream(args: string[], input: string, signal?: AbortSignal) {
    const command = startGit(args, {
      cwd: dir,
      env,
      memoryLimitBytes: options.memoryLimitBytes,
      scrub,
      signal,
      input,
    })
    reading(command.finished).catch(() => {})
    return command
  }

  /** Counts a read from the call on (same tick as the snapshot lookup) to its end. */
  function reading<T>(read: Promise<T>): Promise<T> {
    activeReads++
    const done = () => {
      activeReads--
    }
    read.then(done, done)
    return read
  }

  /** What an operator can do about each failure category. */
  const hints: Partial<Record<GitErrorCode, string>> = {
    disk_full: `free space on the volume of GIT_CACHE_DIR ${options.cacheDir}; the mirror is kept and the next refresh continues from it`,
    cache_unwritable: `GIT_CACHE_DIR ${options.cacheDir} must be writable by this process`,
    memory_limit:
      'git reached GIT_MEMORY_LIMIT: a server sending endless data, or a file larger than the limit; raise GIT_MEMORY_LIMIT for the latter',
    host_key_unverified:
      "the server's host key is not in GIT_SSH_KNOWN_HOSTS_FILE, or differs from it: add the host's key, e.g. from ssh-keyscan, checked against the fingerprints the host publishes",
    auth_failed: options.sshCommand
      ? 'check GIT_SSH_KEY_FILE: its public half must be a deploy key of this repository, or the user in GIT_REPO_URL must be allowed to read it'
      : options.accessToken
        ? 'check GIT_ACCESS_TOKEN (still valid, allowed to read this repository) and GIT_USERNAME (GitLab: oauth2, Bitbucket: x-token-auth)'
        : 'the repository needs credentials: set GIT_ACCESS_TOKEN (and GIT_USERNAME if the host needs one)',
  }

  /** The server has no repository at GIT_REPO_URL, or the credential may not see it (the two look alike on purpose). */
  const repositoryAt = `at ${scrub(options.repoUrl)}`
  const noSuchRepository = options.sshCommand
    ? `the ssh server answered that there is no repository ${repositoryAt}, or that the key may not read it: check the path in GIT_REPO_URL, and that the public half of GIT_SSH_KEY_FILE is a deploy key of that repository`
    : options.accessToken
      ? `the Git server answered that there is no repository ${repositoryAt} (HTTP 404), or that the token may not see it: check the path in GIT_REPO_URL, and that GIT_ACCESS_TOKEN (or GIT_ACCESS_TOKEN_FILE) may read that repository`
      : `the Git server answered that there is no repository ${repositoryAt} (HTTP 404): check the path in GIT_REPO_URL; a private repository also needs GIT_ACCESS_TOKEN (or GIT_ACCESS_TOKEN_FILE)`

  /** Adds what an operator can do about a failure; remembers a broken mirror. */
  async function explain(error: unknown, ownRepository = true): Promise<unknown> {
    if (!(error instanceof GitError)) return error
    if (error.code === 'corrupt_mirror' && ownRepository) broken = true
    if (error.code === 'unreachable' && /returned error: 30[1278]\b/.test(error.detail)) {
      const location = await findRedirect(options.repoUrl, {
        caFile: options.sslCaInfo,
        timeoutMs: Math.min(options.timeoutMs, 10_000),
      })
      const where = location ? scrub(repositoryUrlOf(location)) : 'another URL'
      return new GitError(
        'unreachable',
        `the server redirected to ${where}; redirects are not followed, so the token never leaves for another host: set GIT_REPO_URL to the final URL`,
      )
    }
    if (NO_SUCH_REPOSITORY[error.code]?.test(error.detail))
      return new GitError(error.code, noSuchRepository)
    const hint = hints[error.code]
    return hint ? new GitError(error.code, `${error.detail} (${hint})`) : error
  }

  /** A failed write to the cache dir, as a category: full disk or no write access. */
  function cacheWriteFailure(error: unknown): unknown {
    const code = (error as NodeJS.ErrnoException).code
    const detail = `GIT_CACHE_DIR ${options.cacheDir}: ${describeFsError(code)}`
    if (code === 'ENOSPC' || code === 'EDQUOT') return new GitError('disk_full', detail)
    if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM')
      return new GitError('cache_unwritable', detail)
    return error
  }

  /** The mirror exists, is this repository's, and is not known to be broken. */
  async function usable(): Promise<boolean> {
    const marker = await readFile(join(dir, 'docker-cd-url'), 'utf8').catch(() => undefined)
    return marker === options.repoUrl && !broken
  }

  /** Creates the bare mirror, or rebuilds it when it is missing, foreign or broken. */
  async function ensure(signal?: AbortSignal): Promise<void> {
    if (await usable()) return
    try {
      await rm(dir, { recursive: true, force: true })
      await mkdir(dir, { recursive: true })
    } catch (error) {
      throw cacheWriteFailure(error)
    }
    for (const listener of rebuiltListeners) listener()
    await git(['init', '--bare', '--quiet'], signal)
    // The credential-free URL, so a shared cache dir never mixes repositories.
    await writeFile(join(dir, 'docker-cd-url'), options.repoUrl).catch((error) => {
      throw cacheWriteFailure(error)
    })
    broken = false
  }

  return {
    options,
    /** The mirror's directory (the history repository lives beside it, stack-commits.ts). */
    dir,
    git,
    stream,
    reading,
    explain,
    cacheWriteFailure,
    usable,
    ensure,
    /** Git said an object is missing: rebuild before the next fetch. */
    markBroken() {
      broken = true
    },
    activeReads: () => activeReads,
    /** Told when the mirror was rebuilt from nothing (maintenance resets its reference). */
    onRebuilt(listener: () => void) {
      rebuiltListeners.push(listener)
    },
  }
}

export type Mirror = ReturnType<typeof createMirror>
