import { spawn } from 'node:child_process'

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
  | 'unreachable'
  | 'ref_not_found'
  | 'path_not_found'
  | 'timeout'
  | 'aborted'
  | 'corrupt_mirror'
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
  timeoutMs: number
  signal?: AbortSignal
  /** Removes secrets from anything git printed before it leaves this module. */
  scrub: (text: string) => string
}

type GitResult = { stdout: Buffer; stderr: string }

export function runGit(args: string[], options: GitCommandOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new GitError('aborted', `git ${args[0]} was not started: shutting down`))
      return
    }
    const child = spawn('git', args, {
      cwd: options.cwd,
      env: options.env,
      // Own process group, so a timeout kills git's helpers too.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let stopReason: 'timeout' | 'aborted' | undefined
    const kill = (reason: 'timeout' | 'aborted') => {
      stopReason ??= reason
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => kill('timeout'), options.timeoutMs)
    const onAbort = () => kill('aborted')
    options.signal?.addEventListener('abort', onAbort, { once: true })

    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.stdin.on('error', () => {
      // git may exit before reading all input; the exit code tells the story.
    })
    child.stdin.end(options.input ?? '')

    child.on('error', (error) => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      reject(new GitError('git_error', `cannot run git: ${error.message}`))
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      const errText = options.scrub(Buffer.concat(stderr).toString('utf8')).trim()
      if (stopReason === 'timeout') {
        reject(
          new GitError('timeout', `git ${args[0]} did not finish within ${options.timeoutMs}ms`),
        )
      } else if (stopReason === 'aborted') {
        reject(new GitError('aborted', `git ${args[0]} was stopped: shutting down`))
      } else if (code !== 0) {
        reject(
          new GitError(
            classifyGitFailure(errText),
            lastLines(errText) || `git ${args[0]} exited ${code}`,
          ),
        )
      } else {
        resolve({ stdout: Buffer.concat(stdout), stderr: errText })
      }
    })
  })
}

function lastLines(text: string): string {
  return text.split('\n').filter(Boolean).slice(-3).join('; ')
}

/** Maps git's stderr to the failure categories operators act on. */
export function classifyGitFailure(stderr: string): GitErrorCode {
  const text = stderr.toLowerCase()
  if (
    /authentication failed|could not read username|could not read password|http 40[13]|requested url returned error: 40[13]|terminal prompts disabled/.test(
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
