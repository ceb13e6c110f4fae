import { spawn } from 'node:child_process'
import { Readable } from 'node:stream'

// One git invocation: argv without secrets, credentials through the
// environment, binary-safe stdout, and a hard bound on its lifetime.
//
// simple-git was considered and dropped: `cat-file --batch` must return
// exact bytes (simple-git decodes to strings), it refuses the GIT_CONFIG_*
// variables that carry the token unless unsafe options are switched on, and
// it cannot kill git's helper processes (git-remote-https, index-pack) on
// timeout. This file is the whole runner.

export type GitErrorCode =
  | 'auth_failed'
  | 'host_key_unverified'
  | 'unreachable'
  | 'ref_not_found'
  | 'path_not_found'
  /** An object asked for by id is not in the mirror (a shallow mirror lacks old trees); the mirror is not broken. */
  | 'tree_not_found'
  | 'timeout'
  | 'aborted'
  | 'corrupt_mirror'
  | 'memory_limit'
  | 'disk_full'
  | 'cache_unwritable'
  | 'git_error'

/** A failed git operation: `code` is the category operators act on, the message is secret-free. */
export class GitError extends Error {
  constructor(
    readonly code: GitErrorCode,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`)
    this.name = 'GitError'
  }
}

type GitCommandOptions = {
  cwd?: string
  env: Record<string, string>
  input?: Buffer | string
  /** Bound on the whole command; undefined for local streaming reads, which end with their reader. */
  timeoutMs?: number
  /** Address-space limit of git and each of its helpers (bytes); 0 for none. */
  memoryLimitBytes?: number
  signal?: AbortSignal
  /** Removes secrets from anything git printed before it leaves this module. */
  scrub: (text: string) => string
}

type GitResult = { stdout: Buffer; stderr: string }

/** A running git command: its stdout as a stream, and how it ended. */
type GitProcess = {
  stdout: Readable
  /** Resolves with git's (scrubbed) stderr on exit 0; rejects with a GitError otherwise. */
  finished: Promise<string>
  /** Stops git and its helpers (the reader went away). */
  stop: () => void
}

/** Starts git in its own process group; see runGit for a buffered result. */
export function startGit(args: string[], options: GitCommandOptions): GitProcess {
  if (options.signal?.aborted) {
    return notStarted(
      Promise.reject(new GitError('aborted', `git ${args[0]} was not started: shutting down`)),
    )
  }
  // A bounded command runs under coreutils `timeout`, which ends git (and
  // SIGKILLs it 5 s later if need be) even when this process is gone: a
  // SIGKILLed service must not leave a hung git holding the token in its
  // environment. Its limit is a little longer than the one below, which
  // normally fires first and reports the failure.
  //
  // Under `prlimit --as`, git and every helper it starts (git-remote-https,
  // index-pack) get a bounded address space: a hostile server streaming
  // endless data makes git fail with "out of memory" instead of growing
  // until the host runs out (git buffers a whole ref advertisement).
  const timed =
    options.timeoutMs === undefined
      ? ['git', ...args]
      : ['timeout', '-k', '5', String(Math.ceil(options.timeoutMs / 1000) + 2), 'git', ...args]
  const [command = 'git', ...argv] = options.memoryLimitBytes
    ? ['prlimit', `--as=${options.memoryLimitBytes}`, '--', ...timed]
    : timed
  const child = spawn(command, argv, {
    cwd: options.cwd,
    env: options.env,
    // Own process group, so a timeout kills git's helpers too.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  if (child.pid === undefined) {
    // Not started (no descriptors left for its pipes: EMFILE, no memory,
    // no git): the reason arrives as an 'error' event, the pipes never exist.
    return notStarted(
      new Promise((_resolve, reject) =>
        child.once('error', (error) =>
          reject(new GitError('git_error', `cannot run git: ${error.message}`)),
        ),
      ),
    )
  }
  const stderr: Buffer[] = []
  let stopReason: 'timeout' | 'aborted' | 'stopped' | undefined
  let closed = false
  child.on('close', () => {
    closed = true
  })
  const kill = (reason: 'timeout' | 'aborted' | 'stopped') => {
    // Never signal a process group whose id may have been reused.
    if (closed) return
    stopReason ??= reason
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => kill('timeout'), options.timeoutMs)
  const onAbort = () => kill('aborted')
  options.signal?.addEventListener('abort', onAbort, { once: true })

  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
  // A pipe that fails (its reader destroyed it, the descriptor broke) must
  // not be an uncaught exception: git's exit status says how it ended, and
  // a reader of stdout sees the error through its own iteration.
  child.stderr.on('error', () => {})
  child.stdout.on('error', () => {})
  child.stdin.on('error', () => {
    // git may exit before reading all input; the exit code tells the story.
  })
  child.stdin.end(options.input ?? '')

  const finished = new Promise<string>((resolve, reject) => {
    const cleanUp = () => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    }
    child.on('error', (error) => {
      cleanUp()
      reject(new GitError('git_error', `cannot run git: ${error.message}`))
    })
    child.on('close', (code) => {
      cleanUp()
      const errText = options.scrub(Buffer.concat(stderr).toString('utf8')).trim()
      // 124: `timeout` ended git; 137: it had to SIGKILL it.
      const timedOut = options.timeoutMs !== undefined && (code === 124 || code === 137)
      if (code === 0) {
        // Finished on its own, even if stopped a moment after.
        resolve(errText)
      } else if (stopReason === 'timeout' || (stopReason === undefined && timedOut)) {
        reject(
          new GitError('timeout', `git ${args[0]} did not finish within ${options.timeoutMs}ms`),
        )
      } else if (stopReason === 'aborted') {
        reject(new GitError('aborted', `git ${args[0]} was stopped: shutting down`))
      } else if (stopReason === 'stopped') {
        reject(new GitError('aborted', `git ${args[0]} was stopped: its reader went away`))
      } else {
        reject(
          new GitError(
            classifyGitFailure(errText),
            lastLines(errText) || `git ${args[0]} exited ${code}`,
          ),
        )
      }
    })
  })
  // A caller that only reads stdout must still not leave a rejection unhandled.
  finished.catch(() => {})
  // Stopping also lets go of stdout: a reader that stops before git's last
  // bytes leaves them unread, and 'close' (which settles `finished`) waits
  // for stdout to end, so an exited git would count as running forever.
  const stop = () => {
    kill('stopped')
    child.stdout.destroy()
  }
  return { stdout: child.stdout, finished, stop }
}

/** A git command that never ran: no output, `finished` rejects with why. */
function notStarted(finished: Promise<string>): GitProcess {
  finished.catch(() => {})
  return { stdout: Readable.from([]), finished, stop: () => {} }
}

/** Runs git to the end and returns its whole stdout (binary-safe). */
export async function runGit(args: string[], options: GitCommandOptions): Promise<GitResult> {
  const git = startGit(args, options)
  const chunks: Buffer[] = []
  git.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
  const stderr = await git.finished
  return { stdout: Buffer.concat(chunks), stderr }
}

/** git's advice after any failed ssh or remote read: it would push the server's own reason out of the last lines. */
const BOILERPLATE =
  /^(please make sure you have the correct access rights|and the repository exists\.)$/i

function lastLines(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !BOILERPLATE.test(line))
    .slice(-3)
    .join('; ')
}

/** Maps git's stderr to the failure categories operators act on. */
export function classifyGitFailure(stderr: string): GitErrorCode {
  const text = stderr.toLowerCase()
  // ssh: an unknown or changed host key (before "could not read from remote").
  if (
    /host key verification failed|no \S+ host key is known|remote host identification has changed|host key for .* has changed/.test(
      text,
    )
  ) {
    return 'host_key_unverified'
  }
  // Before corrupt_mirror: a full disk breaks writes ("unable to write",
  // "index-pack failed") but the mirror is fine and must not be rebuilt.
  if (/no space left on device|disk quota exceeded/.test(text)) return 'disk_full'
  if (/read-only file system|insufficient permission for adding/.test(text)) {
    return 'cache_unwritable'
  }
  if (/out of memory|cannot allocate memory|mmap failed/.test(text)) return 'memory_limit'
  if (
    /permission denied \(publickey|authentication failed|could not read username|could not read password|http 40[13]|requested url returned error: 40[13]|terminal prompts disabled/.test(
      text,
    )
  ) {
    return 'auth_failed'
  }
  if (
    /couldn't find remote ref|not our ref|no such remote ref|remote ref .* not found|invalid refspec|unadvertised object|not a valid object/.test(
      text,
    )
  ) {
    return 'ref_not_found'
  }
  if (
    /could not resolve host|failed to connect|connection refused|connection timed out|unable to access|ssl|tls|gnutls|certificate|repository .* not found|http 404|returned error: 404|empty reply|recv failure|the remote end hung up|operation timed out/.test(
      text,
    )
  ) {
    return 'unreachable'
  }
  if (
    /not a git repository|bad object|corrupt|loose object|packfile|index-pack|object file .* is empty|unable to read|invalid object|missing (blob|tree|commit|object)|fatal: bad revision|shallow/.test(
      text,
    )
  ) {
    return 'corrupt_mirror'
  }
  return 'git_error'
}
