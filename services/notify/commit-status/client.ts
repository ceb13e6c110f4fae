import { type Dispatcher, request } from 'undici'
import { readAtMost } from '../../base/index.js'
import { buildCommitStatusRequest } from './request.js'
import type { CommitStatusState, CommitStatusTarget } from './types.js'

// Sends commit statuses for one repository. A status is a courtesy to the
// people reading the commit, never part of the deploy: report() never throws
// and never waits longer than two timeouts and one pause. A call the host
// refuses (4xx: a token without the scope, a deleted repository) would be
// refused again, so it is not retried, and it is told through onRejected once
// per stack and reason, not once per deploy. A host that fails (5xx, no
// answer) is tried once more, then given up on, told the same way.
// The token is only ever in a request header; every text handed out is
// scrubbed of it too, in case a host echoes what it was sent.

export type CommitStatusProblem = {
  stack: string
  state: CommitStatusState
  /** rejected: the host said no (4xx); unreachable: no usable answer after the retry. */
  kind: 'rejected' | 'unreachable'
  /** HTTP status, when the host answered. */
  status?: number
  /** In words, token-free, e.g. `GitHub answered 401: Bad credentials`. */
  reason: string
}

export type CommitStatusResult =
  | { ok: true; status: number }
  | { ok: false; problem: CommitStatusProblem }

export type CommitStatusClientOptions = {
  target: CommitStatusTarget
  token: string
  /** The instance name in each context: `docker-cd/<instance>/<stack>`. */
  instance: string
  /** Bound on one call (connect, answer and body). */
  timeoutMs: number
  /** Pause before the one retry; 1 s unless set (tests set it short). */
  retryDelayMs?: number
  /** undici dispatcher (proxy, CA); the global one unless set. */
  dispatcher?: Dispatcher
  /** Told once per (stack, reason) until that stack's next success; for the log. */
  onRejected: (problem: CommitStatusProblem) => void
}

export type CommitStatusClient = {
  report(
    stack: string,
    sha: string,
    state: CommitStatusState,
    description: string,
    targetUrl?: string,
  ): Promise<CommitStatusResult>
}

const HOST_NAMES: Record<CommitStatusTarget['provider'], string> = {
  github: 'GitHub',
  gitlab: 'GitLab',
  gitea: 'Gitea',
  bitbucket: 'Bitbucket',
}

/** What a host's error body says, in a line: its `message` (GitHub, GitLab, Gitea) or `error.message` (Bitbucket). */
function hostMessage(text: string): string {
  let message: unknown
  try {
    const body = JSON.parse(text) as Record<string, unknown>
    const error = body.error as Record<string, unknown> | undefined
    message = body.message ?? error?.message ?? body.error
  } catch {
    message = text
  }
  const line = (typeof message === 'string' ? message : JSON.stringify(message ?? ''))
    .replace(/\s+/g, ' ')
    .trim()
  return line.length > 200 ? `${line.slice(0, 199)}…` : line
}

/** An error body's first bytes: enough for the host's message, and an endless or huge body is not held in memory. */
const ERROR_BODY_MAX = 16 * 1024

async function leadingText(body: Dispatcher.ResponseData['body']): Promise<string> {
  return (await readAtMost(body, ERROR_BODY_MAX)).bytes.toString('utf8')
}

type Attempt =
  | { done: true; status: number }
  | { done: false; retry: boolean; status?: number; reason: string }

export function createCommitStatusClient(options: CommitStatusClientOptions): CommitStatusClient {
  const { target, token, timeoutMs } = options
  const retryDelayMs = options.retryDelayMs ?? 1000
  const host = HOST_NAMES[target.provider]
  // Every form the token travels in: as is (Bearer, PRIVATE-TOKEN), and for
  // Bitbucket's `user:secret` the Basic header's base64 and the secret alone
  // (a host names the password it refuses); longest first, so the whole is
  // cut before its parts.
  const secretPart = token.includes(':') ? token.slice(token.indexOf(':') + 1) : undefined
  const secrets = [Buffer.from(token).toString('base64'), token, secretPart]
    .filter((secret): secret is string => secret !== undefined && secret.length >= 4)
    .sort((a, b) => b.length - a.length)
  const scrub = (text: string) =>
    secrets.reduce((clean, secret) => clean.split(secret).join('[REDACTED]'), text)
  // (stack, reason) pairs already told, forgotten when that stack succeeds.
  const told = new Map<string, Set<string>>()
  // One chain per stack, so that a slow `pending` can never land after the
  // `success` that followed it and leave the commit showing a running deploy.
  const chains = new Map<string, Promise<unknown>>()

  async function attempt(
    stack: string,
    sha: string,
    state: CommitStatusState,
    description: string,
    targetUrl?: string,
  ): Promise<Attempt> {
    const req = buildCommitStatusRequest(
      target,
      { sha, state, context: `docker-cd/${options.instance}/${stack}`, description, targetUrl },
      token,
    )
    try {
      const response = await request(req.url, {
        method: req.method,
        headers: req.headers,
        body: JSON.stringify(req.body),
        signal: AbortSignal.timeout(timeoutMs),
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      })
      const status = response.statusCode
      if (status >= 200 && status < 300) {
        await response.body.dump()
        return { done: true, status }
      }
      // Scrubbed before the message is cut to a line: a token straddling the
      // cut would otherwise leave its start behind.
      const said = hostMessage(scrub(await leadingText(response.body)))
      return {
        done: false,
        retry: status >= 500,
        status,
        reason: `${host} answered ${status}${said ? `: ${said}` : ''}`,
      }
    } catch (error) {
      const err = error as Error & { code?: string }
      const reason =
        err.name === 'TimeoutError' || err.name === 'AbortError'
          ? `${host} gave no answer within ${timeoutMs} ms`
          : `${host} could not be reached: ${err.code ?? err.message}`
      return { done: false, retry: true, reason }
    }
  }

  function tell(problem: CommitStatusProblem): void {
    const seen = told.get(problem.stack) ?? new Set<string>()
    told.set(problem.stack, seen)
    if (seen.has(problem.reason)) return
    seen.add(problem.reason)
    try {
      options.onRejected(problem)
    } catch {
      // A broken log callback must not turn into a failed deploy.
    }
  }

  async function send(
    stack: string,
    sha: string,
    state: CommitStatusState,
    description: string,
    targetUrl?: string,
  ): Promise<CommitStatusResult> {
    let result = await attempt(stack, sha, state, description, targetUrl)
    if (!result.done && result.retry) {
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs))
      result = await attempt(stack, sha, state, description, targetUrl)
    }
    if (result.done) {
      told.delete(stack)
      return { ok: true, status: result.status }
    }
    const problem: CommitStatusProblem = {
      stack,
      state,
      kind: result.status !== undefined && result.status < 500 ? 'rejected' : 'unreachable',
      reason: scrub(result.reason),
      ...(result.status !== undefined ? { status: result.status } : {}),
    }
    tell(problem)
    return { ok: false, problem }
  }

  return {
    report(stack, sha, state, description, targetUrl) {
      const previous = chains.get(stack) ?? Promise.resolve()
      const run = previous
        .then(() => send(stack, sha, state, description, targetUrl))
        .catch(
          // send() resolves on every path it knows; this is for the ones it does not.
          (error: unknown): CommitStatusResult => ({
            ok: false,
            problem: {
              stack,
              state,
              kind: 'unreachable',
              reason: scrub(`status not sent: ${(error as Error)?.message ?? String(error)}`),
            },
          }),
        )
      chains.set(stack, run)
      void run.then(() => {
        if (chains.get(stack) === run) chains.delete(stack)
      })
      return run
    },
  }
}
